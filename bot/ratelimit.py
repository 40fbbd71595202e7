"""Per-user and per-workspace rate limits on asks (`REDLINE_RATE_PER_USER`,
`REDLINE_RATE_PER_WORKSPACE`, e.g. `20/hour`), transport-free.

The counting lives in the store (`store.hit`, a sliding window in the database), so every
replica shares the same counters. This module decides what a request may do and what the
user is told. It fails closed: if the counters cannot be read, the request is refused
with a message and never reaches the policy engine or the model.

`RateLimitedAsk` puts the check in front of an ask flow without changing it: the handlers
keep calling `services.ask.handle(request, sink)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.settings import RateLimit, Settings
from bot.types import Request, Verdict

log = logging.getLogger(__name__)

Scope = Literal["user", "workspace", "unavailable"]

STORE_DOWN_MESSAGE = (
    "Redline cannot check its usage limits right now (the database is unavailable), so your "
    "request was not sent to the model. Please try again in a moment."
)


class Counters(Protocol):
    def hit(self, key: str, limit: RateLimit | None) -> bool: ...


class Metrics(Protocol):  # bot.metrics.Metrics; kept structural so this module stands alone
    @property
    def rate_limited(self) -> Any: ...


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    scope: Scope | None = None  # what refused it
    message: str = ""  # what the user is told (empty when allowed)


ALLOWED = RateDecision(True)


def describe(limit: RateLimit) -> str:
    unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(
        limit.per_seconds, f"{limit.per_seconds} seconds"
    )
    plural = "" if limit.count == 1 else "s"
    return f"{limit.count} request{plural} per {unit}"


class RateLimits:
    """The two limits over one counter store. Keys: `user:<team>:<user>`, `team:<team>`."""

    def __init__(
        self,
        counters: Counters | None,
        per_user: RateLimit | None,
        per_workspace: RateLimit | None,
        metrics: Metrics | None = None,
    ) -> None:
        self._counters = counters
        self.per_user = per_user
        self.per_workspace = per_workspace
        self._metrics = metrics

    @classmethod
    def from_settings(
        cls, settings: Settings, counters: Counters | None, metrics: Metrics | None = None
    ) -> RateLimits:
        return cls(counters, settings.rate_per_user, settings.rate_per_workspace, metrics)

    @property
    def enabled(self) -> bool:
        return self.per_user is not None or self.per_workspace is not None

    def check(self, user: str, team: str = "") -> RateDecision:
        """Count one ask by `user` in `team`; refuse it when a limit is used up.

        The user's own limit is counted first: a user over their limit does not use up
        the workspace's allowance. A refused hit is not counted by the store."""
        if not self.enabled:
            return ALLOWED
        if self._counters is None:
            # Limits configured but nothing to count them with: fail closed, loudly.
            return self._refuse("unavailable", STORE_DOWN_MESSAGE)
        try:
            if self.per_user is not None and not self._counters.hit(
                f"user:{team}:{user}", self.per_user
            ):
                return self._refuse(
                    "user",
                    f"You have reached your limit of {describe(self.per_user)}. "
                    "Please wait a little and ask again.",
                )
            if self.per_workspace is not None and not self._counters.hit(
                f"team:{team}", self.per_workspace
            ):
                return self._refuse(
                    "workspace",
                    f"This workspace has reached its limit of {describe(self.per_workspace)}. "
                    "Please try again later.",
                )
        except Exception as exc:  # StoreUnavailable, or anything else: fail closed
            log.warning("rate limit check failed: %s", type(exc).__name__)
            return self._refuse("unavailable", STORE_DOWN_MESSAGE)
        return ALLOWED

    def _refuse(self, scope: Scope, message: str) -> RateDecision:
        if self._metrics is not None:
            self._metrics.rate_limited.inc(scope=scope)
        return RateDecision(False, scope, message)


class RateLimitedAsk:
    """An ask flow with the limits checked first. A refused ask is told why (privately if
    the sink can: `sink.ephemeral(text)`, else in its thread via `sink.failed`) and goes
    no further. Everything else (`check`, `profile_for`, `answer_approved`, …) is the
    wrapped flow's: approving a held request is not a new ask and is not counted."""

    def __init__(self, ask: Any, limits: RateLimits) -> None:
        self._ask = ask
        self.limits = limits

    def handle(self, request: Request, sink: Any) -> Any:
        decision = self.limits.check(request.user, request.team)
        if not decision.allowed:
            from bot.ask import AskOutcome  # the outcome type the callers read

            notify = getattr(sink, "ephemeral", None)
            (notify if callable(notify) else sink.failed)(decision.message)
            verdict = Verdict(
                decision="refuse", category=None, score=0.0, stage="rate_limit",
                reason=decision.message, policy_version="", profile="",
            )
            return AskOutcome(
                request.request_id, "rate_limited", verdict, message=decision.message
            )
        return self._ask.handle(request, sink)

    def with_profile(self, profile: str) -> RateLimitedAsk:
        return RateLimitedAsk(self._ask.with_profile(profile), self.limits)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ask, name)
