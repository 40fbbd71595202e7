"""Prometheus metrics without a client library: counters, gauges and histograms kept in
memory, rendered in the text exposition format (version 0.0.4) for `GET /metrics`.

One `Metrics` object is built at start and passed down; every instrument is thread-safe
(one lock per instrument: updates are a dict lookup and an add). Hooks that need no change
to the code they observe:

- `MeteredAudit` wraps the audit sink the ask flow writes every decision to, so decisions
  by category and decision, the policy engine's latency and the model's latency are
  counted from the very records that are audited;
- `SlackErrorCounter` is a slack_sdk retry handler (put it first in the client's list)
  that counts Slack Web API failures and never retries anything itself;
- `instrument_wsgi` wraps the WSGI app: serves `GET /metrics`, counts HTTP answers by
  route and status, and times each answer (the ack latency for `/slack/events`);
- the review queue depth is a gauge read from the store when scraped.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.types import AuditEntry

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. The policy engine answers in milliseconds; a model in seconds.
CLASSIFIER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Instrument:
    kind = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Instrument):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]

    def drain(self) -> dict[LabelValues, float]:
        """What was counted since the last drain, and reset (see `Registry.drain`)."""
        with self._lock:
            values, self._values = self._values, {}
        return values

    def absorb(self, values: dict[LabelValues, float]) -> None:
        with self._lock:
            for key, amount in values.items():
                self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(_Instrument):
    """A value set directly, or read from `source` at scrape time (e.g. queue depth)."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        source: Callable[[], float | None] | None = None,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}
        self.source = source

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def value(self, **labels: str) -> float | None:
        with self._lock:
            return self._values.get(self._key(labels))

    def samples(self) -> list[str]:
        if self.source is not None and not self.labelnames:
            try:
                current = self.source()
            except Exception as exc:  # a scrape must not fail because one source did
                log.warning("metric %s: source failed (%s)", self.name, type(exc).__name__)
                current = None
            if current is not None:
                self.set(current)
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Histogram(_Instrument):
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (),
        buckets: Sequence[float] = HTTP_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        if "le" in self.labelnames:
            raise ValueError("'le' is reserved for histogram buckets")
        self.buckets = tuple(sorted(float(b) for b in buckets))
        # per label set: [count per bucket (non-cumulative) + overflow], sum, count
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        index = len(self.buckets)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                index = i
                break
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            counts[index] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value

    def count(self, **labels: str) -> int:
        with self._lock:
            return sum(self._counts.get(self._key(labels), ()))

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v), self._sums[k]) for k, v in self._counts.items())
        lines: list[str] = []
        for key, counts, total in items:
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {running}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {running}")
        return lines

    def drain(self) -> dict[LabelValues, tuple[list[int], float]]:
        with self._lock:
            counts, self._counts = self._counts, {}
            sums, self._sums = self._sums, {}
        return {key: (value, sums[key]) for key, value in counts.items()}

    def absorb(self, values: dict[LabelValues, tuple[list[int], float]]) -> None:
        with self._lock:
            for key, (counts, total) in values.items():
                mine = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
                if len(counts) != len(mine):
                    continue  # another build's buckets: cannot be merged
                for i, n in enumerate(counts):
                    mine[i] += n
                self._sums[key] = self._sums.get(key, 0.0) + total


class Registry:
    """Instruments by name, rendered in registration order."""

    def __init__(self) -> None:
        self._instruments: dict[str, _Instrument] = {}
        self._lock = threading.Lock()

    def _add(self, instrument: _Instrument) -> Any:
        with self._lock:
            if instrument.name in self._instruments:
                raise ValueError(f"metric {instrument.name} registered twice")
            self._instruments[instrument.name] = instrument
        return instrument

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labelnames))

    def gauge(
        self, name: str, help_text: str, labelnames: Sequence[str] = (),
        source: Callable[[], float | None] | None = None,
    ) -> Gauge:
        return self._add(Gauge(name, help_text, labelnames, source))

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (),
        buckets: Sequence[float] = HTTP_BUCKETS,
    ) -> Histogram:
        return self._add(Histogram(name, help_text, labelnames, buckets))

    def drain(self) -> dict[str, Any]:
        """Counter and histogram values since the last drain, reset, as plain data: an
        answer process sends these to the serving process, which `absorb`s them, so one
        `/metrics` covers every process. Gauges stay where they are set."""
        with self._lock:
            instruments = list(self._instruments.values())
        delta: dict[str, Any] = {}
        for instrument in instruments:
            if isinstance(instrument, Counter | Histogram):
                values = instrument.drain()
                if values:
                    delta[instrument.name] = values
        return delta

    def absorb(self, delta: dict[str, Any]) -> None:
        with self._lock:
            instruments = dict(self._instruments)
        for name, values in delta.items():
            instrument = instruments.get(name)
            if isinstance(instrument, Counter | Histogram):
                instrument.absorb(values)

    def render(self) -> str:
        with self._lock:
            instruments = list(self._instruments.values())
        lines: list[str] = []
        for instrument in instruments:
            lines.extend(instrument.header())
            lines.extend(instrument.samples())
        return "\n".join(lines) + "\n"


class Metrics:
    """Redline's instruments. Label values are bounded sets (category ids, decisions,
    method names, status codes), never user ids or free text."""

    def __init__(self) -> None:
        self.registry = Registry()
        r = self.registry
        self.started = r.gauge("redline_start_time_seconds", "Unix time the process started.")
        self.started.set(time.time())
        self.decisions = r.counter(
            "redline_decisions_total",
            "Policy decisions by kind (request|response), category and decision.",
            ("kind", "category", "decision"),
        )
        self.classifier_latency = r.histogram(
            "redline_classifier_latency_seconds",
            "Time the policy engine took to decide one text.",
            ("kind",),
            CLASSIFIER_BUCKETS,
        )
        self.model_latency = r.histogram(
            "redline_model_latency_seconds",
            "Time from the model call to the whole (guarded) answer.",
            (),
            MODEL_BUCKETS,
        )
        self.model_errors = r.counter(
            "redline_model_errors_total",
            "Model calls that failed, by kind (timeout|rate_limited|server|bad_response|…).",
            ("kind",),
        )
        self.slack_api_errors = r.counter(
            "redline_slack_api_errors_total",
            "Slack Web API calls answered with an error (HTTP status or Slack error code).",
            ("method", "error"),
        )
        self.audit_failures = r.counter(
            "redline_audit_write_failures_total",
            "Audit writes that failed (the request was failed closed).",
        )
        self.rate_limited = r.counter(
            "redline_rate_limited_total", "Requests refused by a rate limit.", ("scope",)
        )
        self.review_queue_depth = r.gauge(
            "redline_review_queue_depth", "Pending items in the human review queue."
        )
        self.answer_queue_depth = r.gauge(
            "redline_answer_queue_depth",
            "Deliveries waiting for an answer process (REDLINE_ANSWER_PROCESSES).",
        )
        self.http_requests = r.counter(
            "redline_http_requests_total", "HTTP answers by route and status.", ("route", "status")
        )
        self.http_latency = r.histogram(
            "redline_http_request_seconds",
            "Time to answer an HTTP request (for /slack/events: the ack).",
            ("route",),
            HTTP_BUCKETS,
        )

    def watch_review_queue(self, depth: Callable[[], float | None]) -> None:
        """Read the queue depth from `depth()` at each scrape (None: keep the last value)."""
        self.review_queue_depth.source = depth

    def watch_answer_queue(self, depth: Callable[[], float | None]) -> None:
        self.answer_queue_depth.source = depth

    def observe_entry(self, entry: AuditEntry) -> None:
        """Count one audited decision (see `MeteredAudit`)."""
        if entry.action in ("request", "response"):
            self.decisions.inc(
                kind=entry.action, category=entry.category or "none", decision=entry.decision
            )
        if entry.action == "request":
            self.classifier_latency.observe(entry.latency_ms / 1000.0, kind="request")
        elif entry.action == "response":
            self.model_latency.observe(entry.latency_ms / 1000.0)
        elif entry.action == "error" and entry.detail.startswith("model "):
            self.model_errors.inc(kind=entry.detail.removeprefix("model ")[:32] or "unknown")

    def render(self) -> str:
        return self.registry.render()


def review_queue_depth(store: Any, limit: int = 1000) -> Callable[[], float | None]:
    """A gauge source over `store.pending_reviews()`; None (keep last) if the store is down."""

    def depth() -> float | None:
        try:
            return float(len(store.pending_reviews(limit=limit)))
        except Exception:
            return None

    return depth


# --- hooks ---------------------------------------------------------------------------------


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> object: ...


class MeteredAudit:
    """An audit sink that counts each decision, then hands it to the real one unchanged.

    A failed write is counted and re-raised: the ask flow fails closed on it."""

    def __init__(self, inner: AuditSink, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def record(self, entry: AuditEntry) -> object:
        self._metrics.observe_entry(entry)
        try:
            return self._inner.record(entry)
        except Exception:
            self._metrics.audit_failures.inc()
            raise

    def __getattr__(self, name: str) -> Any:  # the rest of the store's surface, unchanged
        return getattr(self._inner, name)


class SlackErrorCounter(RetryHandler):
    """Counts Slack Web API failures; never asks for a retry, so the handlers after it in
    the client's `retry_handlers` list decide that. Put it first."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0][:48] or "unknown"
        if response is None:
            self._metrics.slack_api_errors.inc(
                method=method, error=type(error).__name__ if error else "unknown"
            )
        elif response.status_code >= 400:
            self._metrics.slack_api_errors.inc(method=method, error=str(response.status_code))
        elif isinstance(response.body, dict) and response.body.get("ok") is False:
            self._metrics.slack_api_errors.inc(
                method=method, error=str(response.body.get("error") or "not_ok")[:48]
            )
        return False

    def _can_retry(self, **_: Any) -> bool:  # pragma: no cover - can_retry is overridden
        return False

    # Bolt deep-copies the WebClient (and so its retry handlers) for every request: every
    # copy must count into the same registry.
    def __copy__(self) -> SlackErrorCounter:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SlackErrorCounter:
        return self


def instrument_wsgi(
    wsgi: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    metrics: Metrics,
    routes: Sequence[str] = ("/slack/events", "/healthz"),
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Serve `GET /metrics` and count/time every other answer of `wsgi`."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == METRICS_PATH and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
            body = metrics.render().encode("utf-8")
            start_response(
                "200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))]
            )
            return [body]
        route = path if path in routes else "other"  # bounded label values
        started = time.perf_counter()
        status: list[str] = ["500"]

        def recording_start_response(code: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info) if exc_info else start_response(
                code, headers
            )

        try:
            return wsgi(environ, recording_start_response)
        finally:
            metrics.http_requests.inc(route=route, status=status[0])
            metrics.http_latency.observe(time.perf_counter() - started, route=route)

    return app


@dataclass(frozen=True)
class Sample:
    """One parsed sample line (tests and the benchmark read /metrics back with this)."""

    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    """Parse the text format this module renders (not a general Prometheus parser)."""
    out: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, raw_value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels: dict[str, str] = {}
        rest = rest.removesuffix("}")
        while rest:
            key, _, rest = rest.partition('="')
            value_chars: list[str] = []
            i = 0
            while i < len(rest):
                ch = rest[i]
                if ch == "\\" and i + 1 < len(rest):
                    value_chars.append({"n": "\n"}.get(rest[i + 1], rest[i + 1]))
                    i += 2
                    continue
                if ch == '"':
                    break
                value_chars.append(ch)
                i += 1
            labels[key] = "".join(value_chars)
            rest = rest[i + 1 :].removeprefix(",")
        out.append(Sample(name, labels, float(raw_value.replace("+Inf", "inf"))))
    return out
