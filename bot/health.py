"""The health report behind `GET /healthz`: can this replica reach its database and its
model, and which policy is it enforcing.

- database: `store.ping()` (a `SELECT 1`; never raises);
- model: any HTTP answer from `LLM_BASE_URL` to a GET (even 404) means reachable; a
  refused connection or a timeout means not. No API key is sent (nothing to leak, nothing
  billed). The result is cached for `model_ttl_s` so a load balancer polling every second
  does not turn into traffic against the provider;
- policy: the content hash of the loaded policy file.

`ok` is true when the database answers and the model (if one is configured) is reachable.
A replica with `ok: false` still answers Slack (with clear failure messages), so use
`ok` for alerting and readiness, not for killing the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx

from bot.settings import Settings

MODEL_PROBE_TIMEOUT_S = 2.0
MODEL_CACHE_TTL_S = 5.0


class Pingable(Protocol):
    def ping(self) -> bool: ...


class AnswerPool(Protocol):
    def status(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class ModelReach:
    configured: bool
    ok: bool
    detail: str = ""  # "HTTP 404", "ConnectError", "timeout", "not configured"
    checked_at: float = 0.0


class ModelProbe:
    """A cheap, cached reachability check of the model API's base URL."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = MODEL_PROBE_TIMEOUT_S,
        ttl_s: float = MODEL_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_url
        self._timeout = timeout_s
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: ModelReach | None = None

    def reach(self) -> ModelReach:
        if not self._url:
            return ModelReach(configured=False, ok=True, detail="not configured")
        # One prober at a time; the others wait for its answer instead of probing too.
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached.checked_at < self._ttl:
                return self._cached
            self._cached = self._probe(now)
            return self._cached

    def _probe(self, now: float) -> ModelReach:
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
                resp = client.get(self._url)
            return ModelReach(True, True, f"HTTP {resp.status_code}", now)
        except httpx.TimeoutException:
            return ModelReach(True, False, "timeout", now)
        except httpx.HTTPError as exc:
            return ModelReach(True, False, type(exc).__name__, now)


class HealthCheck:
    def __init__(
        self,
        store: Pingable | None,
        probe: ModelProbe,
        policy_version: str = "",
        backend: str = "",
        answer_workers: AnswerPool | None = None,
    ) -> None:
        self._store = store
        self._probe = probe
        self._policy_version = policy_version
        self._backend = backend
        self._answer_workers = answer_workers

    @classmethod
    def from_services(
        cls, services: Any, answer_workers: AnswerPool | None = None
    ) -> HealthCheck:
        """From `bot.services.Services`: its store, its settings' model URL, its policy;
        with `answer_workers`, whether its answer processes are up."""
        settings: Settings = services.settings
        store = getattr(services, "store", None)
        policy = getattr(getattr(services, "engine", None), "policy", None)
        probe = ModelProbe(settings.llm_base_url if settings.model_configured else "")
        return cls(
            store,
            probe,
            policy_version=str(getattr(policy, "version", "") or ""),
            backend=str(getattr(store, "backend", "") or ""),
            answer_workers=answer_workers,
        )

    def report(self) -> dict[str, Any]:
        """JSON-ready; merged into `/healthz` (its `ok` replaces the server's)."""
        if self._store is None:
            database: dict[str, Any] = {"ok": False, "detail": "no store"}
        else:
            database = {"ok": bool(self._store.ping())}
            if self._backend:
                database["backend"] = self._backend
        model = asdict(self._probe.reach())
        model.pop("checked_at", None)
        info: dict[str, Any] = {
            "ok": database["ok"] and model["ok"],
            "database": database,
            "model": model,
            "policy_version": self._policy_version,
        }
        if self._answer_workers is not None:
            # Between a crash and its replacement, acks still go out and work queues.
            info["answer_processes"] = self._answer_workers.status()
            info["ok"] = info["ok"] and info["answer_processes"]["alive"] > 0
        return info
