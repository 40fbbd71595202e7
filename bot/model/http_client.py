"""The HTTP side shared by both providers: one attempt, timeouts, deadlines and retries.

Provider subclasses say what to send (`_endpoint`, `_headers`, `_payload`) and how to read
an answer (`_parse_complete`, `_stream_parser`). This module owns the rules in
`bot.model.retry`: every phase of an attempt is clipped to the call's budget, retryable
failures (connect errors, 408/429/5xx, an overload reported before any text) are retried
with backoff and Retry-After, and nothing is retried once text has been yielded.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import httpx

from bot.model.errors import (
    ModelError,
    bad_response_error,
    cut_off_error,
    error_for_status,
    stream_timeout_error,
    timeout_error,
    too_long_error,
    unavailable_error,
)
from bot.model.messages import ChatMessage
from bot.model.redact import Redactor, safe_url
from bot.model.retry import CallLimits, Deadline, parse_retry_after
from bot.model.sse import SSEDecoder, SSEError, SSEEvent
from bot.settings import Settings

log = logging.getLogger("bot.model")

MAX_BODY_BYTES = 8_000_000  # a non-streamed answer larger than this is not an answer
MAX_ERROR_BODY_BYTES = 64_000  # enough to read a provider's error message
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


class StreamParser(Protocol):
    """Turns provider SSE events into text deltas; raises ModelError on error events."""

    done: bool  # the provider's end-of-answer marker was seen
    finished: bool  # the answer said it was complete (a stop reason), marker or not
    recognised: bool  # at least one event of this provider's format was seen

    def feed(self, event: SSEEvent) -> list[str]: ...


class _Phase:
    """Which deadline governs the attempt right now: the budget until text flows, then the
    stream cap. Read by the httpcore trace hook to clip each read timeout."""

    def __init__(self, timeout_s: float, budget: Deadline, cap: Deadline) -> None:
        self.timeout_s = timeout_s
        self.budget = budget
        self.cap = cap
        self.streaming = False

    @property
    def deadline(self) -> Deadline:
        return self.cap if self.streaming else self.budget

    def read_timeout(self) -> float:
        return max(0.001, min(self.timeout_s, self.deadline.remaining()))


class HttpChatClient:
    """Base of the provider clients. Thread-safe: one instance serves every Slack thread."""

    provider = "http"

    def __init__(
        self,
        settings: Settings,
        *,
        limits: CallLimits | None = None,
        http: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.model = settings.llm_model
        self._settings = settings
        self._limits = limits or CallLimits.from_settings(settings)
        self._redact = Redactor((*settings.secrets(), settings.llm_api_key))
        self._http = http or httpx.Client(
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            follow_redirects=False,
        )
        self._rng = rng or random.Random()
        self._url = self._endpoint(settings.llm_base_url.rstrip("/"))

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(model={self.model!r}, url={safe_url(self._url)!r})"

    def close(self) -> None:
        self._http.close()

    # --- provider hooks ----------------------------------------------------------------------
    def _endpoint(self, base_url: str) -> str:
        raise NotImplementedError

    def _headers(self, stream: bool) -> dict[str, str]:
        raise NotImplementedError

    def _payload(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _parse_complete(self, body: Any) -> str:
        """Text of a non-streamed answer; raises ModelError (bad_response or provider error)."""
        raise NotImplementedError

    def _stream_parser(self) -> StreamParser:
        raise NotImplementedError

    def _error_detail(self, body: Any) -> str:
        """A short description of a provider error body (type and message), for logs."""
        raise NotImplementedError

    # --- the ChatClient interface --------------------------------------------------------------
    def complete(self, messages: Sequence[ChatMessage]) -> str:
        payload = self._payload(messages, stream=False)
        started = time.monotonic()
        budget = Deadline(self._limits.budget_s)
        phase = _Phase(self._limits.timeout_s, budget, budget)
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._send(payload, phase, started, stream=False) as response:
                    body = self._read_json(response, phase, started, MAX_BODY_BYTES)
                    return self._checked(self._parse_complete, body)
            except ModelError as error:
                self._before_retry(error, attempt, budget, started)

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """Text deltas as they arrive. With LLM_STREAM=false, the whole answer in one piece."""
        if not self._settings.llm_stream:
            if text := self.complete(messages):
                yield text
            return
        payload = self._payload(messages, stream=True)
        started = time.monotonic()
        budget = Deadline(self._limits.budget_s)
        phase = _Phase(self._limits.timeout_s, budget, Deadline(self._limits.stream_max_s))
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._send(payload, phase, started, stream=True) as response:
                    ctype = response.headers.get("content-type", "").lower()
                    if "json" in ctype:  # a server that ignored "stream": true
                        body = self._read_json(response, phase, started, MAX_BODY_BYTES)
                        if text := self._checked(self._parse_complete, body):
                            yield text
                        return
                    if "html" in ctype:
                        raise bad_response_error(f"HTML page instead of a stream ({ctype})")
                    yield from self._events(response, phase, started)
                    return
            except ModelError as error:
                if phase.streaming:  # text already shown: a retry would repeat it
                    self._log_failure(error, attempt, started)
                    raise
                self._before_retry(error, attempt, budget, started)

    # --- one attempt ---------------------------------------------------------------------------
    @contextmanager
    def _send(
        self, payload: dict[str, Any], phase: _Phase, started: float, *, stream: bool
    ) -> Iterator[httpx.Response]:
        """Open the response (status checked) with every phase clipped to the budget."""
        remaining = phase.budget.remaining()
        if remaining <= 0:
            raise self._timeout(phase, started, "budget spent before the attempt")
        first = min(self._limits.timeout_s, remaining)
        request = self._http.build_request(
            "POST",
            self._url,
            json=payload,
            headers=self._headers(stream),
            timeout=httpx.Timeout(first),
            extensions={"trace": _clip_reads(phase)},
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._translate(exc, phase, started) from None
        try:
            if not 200 <= response.status_code < 300:
                raise self._status_error(response, phase, started)
            yield response
        except httpx.HTTPError as exc:
            raise self._translate(exc, phase, started) from None
        finally:
            response.close()

    def _events(self, response: httpx.Response, phase: _Phase, started: float) -> Iterator[str]:
        parser = self._stream_parser()
        decoder = SSEDecoder()
        for piece in response.iter_bytes():
            self._check_deadline(phase, started)
            try:
                events = decoder.feed(piece)
            except SSEError as exc:
                raise bad_response_error(self._redact(str(exc))) from None
            for event in events:
                for text in self._checked(parser.feed, event):
                    if text:
                        phase.streaming = True
                        yield text
                if parser.done:
                    return
        if parser.finished:  # some servers omit the final marker after a stop reason
            return
        if not parser.recognised:
            raise bad_response_error("the stream held no events of the expected format")
        raise cut_off_error("stream ended without its end marker", retryable=True)

    def _read_json(
        self, response: httpx.Response, phase: _Phase, started: float, limit: int
    ) -> Any:
        raw = self._read_capped(response, phase, started, limit)
        if raw is None:
            raise bad_response_error(f"body larger than {limit} bytes")
        try:
            return json.loads(raw)
        except ValueError:
            ctype = response.headers.get("content-type", "?")
            raise bad_response_error(f"body is not JSON ({ctype}, {len(raw)} bytes)") from None

    def _read_capped(
        self, response: httpx.Response, phase: _Phase, started: float, limit: int
    ) -> bytes | None:
        """The body, or None when longer than `limit`; the deadline is checked per piece."""
        parts: list[bytes] = []
        size = 0
        for piece in response.iter_bytes():
            self._check_deadline(phase, started)
            size += len(piece)
            if size > limit:
                return None
            parts.append(piece)
        return b"".join(parts)

    # --- failures ------------------------------------------------------------------------------
    def _checked(self, parse: Callable[[Any], Any], value: Any) -> Any:
        """Run a provider parser; anything but a ModelError means the reply was malformed."""
        try:
            return parse(value)
        except ModelError as error:
            error.detail = self._redact(error.detail)
            raise
        except _PARSE_ERRORS as exc:
            raise bad_response_error(f"{type(exc).__name__} while reading the reply") from None

    def _status_error(self, response: httpx.Response, phase: _Phase, started: float) -> ModelError:
        status = response.status_code
        detail = f"HTTP {status}"
        try:
            raw = self._read_capped(response, phase, started, MAX_ERROR_BODY_BYTES)
        except (httpx.HTTPError, ModelError):
            raw = None
        if raw:
            try:
                detail += " " + self._error_detail(json.loads(raw))
            except _PARSE_ERRORS:
                detail += f" (non-JSON body, {len(raw)} bytes)"
        error = error_for_status(status, self._redact(detail)[:300])
        error.retry_after = parse_retry_after(dict(response.headers))
        return error

    def _translate(self, exc: httpx.HTTPError, phase: _Phase, started: float) -> ModelError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")[:300]
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            error = timeout_error(self._waited(started), detail)
            error.retryable = True
            return error
        if isinstance(exc, httpx.TimeoutException):
            return self._timeout(phase, started, detail)
        if isinstance(exc, httpx.ConnectError):
            return unavailable_error(detail)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return cut_off_error(detail, retryable=not phase.streaming)
        if isinstance(exc, httpx.DecodingError):
            return bad_response_error(detail)
        return unavailable_error(detail, retryable=False)  # bad URL, unsupported protocol…

    def _timeout(self, phase: _Phase, started: float, detail: str) -> ModelError:
        if phase.streaming:
            if phase.cap.passed:
                return too_long_error(self._limits.stream_max_s, detail)
            return stream_timeout_error(self._limits.timeout_s, detail)
        return timeout_error(self._waited(started), detail)

    def _waited(self, started: float) -> float:
        """Seconds to quote to the user: the timeout, or the whole wait when retries ran."""
        waited = time.monotonic() - started
        if waited < self._limits.timeout_s + 1:
            return self._limits.timeout_s
        return float(round(waited))

    def _check_deadline(self, phase: _Phase, started: float) -> None:
        if phase.deadline.passed:
            raise self._timeout(phase, started, "deadline passed while receiving")

    def _before_retry(
        self, error: ModelError, attempt: int, budget: Deadline, started: float
    ) -> None:
        """Sleep before the next attempt, or re-raise `error` when retrying is pointless."""
        if not error.retryable or attempt >= self._limits.max_attempts:
            self._log_failure(error, attempt, started)
            raise error
        wait = self._limits.backoff(attempt, self._rng)
        if error.retry_after is not None:
            wait = max(wait, error.retry_after)
        # Leave the next attempt a useful slice of the budget, or give up now: never sleep
        # past the budget only to fail at its end.
        if wait + min(self._limits.timeout_s, 1.0) > budget.remaining():
            self._log_failure(error, attempt, started)
            raise error
        log.warning(
            "model call to %s failed (%s%s: %s); retry %d/%d in %.2f s",
            safe_url(self._url),
            error.kind,
            f" {error.status}" if error.status else "",
            error.detail,
            attempt,
            self._limits.max_attempts - 1,
            wait,
        )
        time.sleep(wait)

    def _log_failure(self, error: ModelError, attempt: int, started: float) -> None:
        log.warning(
            "model call to %s gave up after %d attempt(s) and %.2f s: %s (%s)",
            safe_url(self._url),
            attempt,
            time.monotonic() - started,
            error.kind,
            error.detail,
        )


def _clip_reads(phase: _Phase) -> Callable[[str, dict[str, Any]], None]:
    """An httpcore `trace` hook that clips the read timeout to the governing deadline.

    httpcore reads `extensions["timeout"]["read"]` when it starts waiting for the response
    headers and again when it starts on the body, so updating it at those two moments makes
    the wait for the first byte (after a slow connect) and the silent gaps of a stream end
    no later than the budget / stream cap. If httpcore ever stops honouring this, the
    per-piece deadline checks still hold, only less tightly.
    """

    def trace(name: str, info: dict[str, Any]) -> None:
        if name.endswith(("receive_response_headers.started", "receive_response_body.started")):
            request = info.get("request")
            timeouts = getattr(request, "extensions", {}).get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = phase.read_timeout()

    return trace
