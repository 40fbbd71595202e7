"""Time limits of one model call: per-phase timeout, total budget, backoff, Retry-After.

The rules (documented in the README's "Models" section):

- `timeout_s` (LLM_TIMEOUT_S) bounds connecting, the wait for the first byte of the
  response and every gap between two pieces of a streamed answer.
- `budget_s` bounds everything until the answer starts — all attempts, backoff sleeps and
  Retry-After waits: LLM_TIMEOUT_S + 1.5 s, and never more than 55 s, so the user hears
  back within LLM_TIMEOUT_S + 2 s of a fault (issue #5) and within 60 s in the worst case
  (issue #2). Each attempt's timeouts are clipped to what is left of it
  and no sleep runs past it.
- Up to `max_attempts` (4) attempts, separated by exponential backoff with jitter
  (`backoff_base_s` doubling up to `backoff_max_s`), or by the provider's Retry-After when
  that is longer.
- `stream_max_s` (180 s) bounds a whole streamed answer, so a stream that trickles a byte
  now and then cannot hold a Slack thread forever. Non-streamed answers must arrive whole
  within `budget_s`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from bot.settings import Settings

HEAR_BACK_S = 60.0  # issue #2: the user hears back within 60 s of asking
BUDGET_MARGIN_S = 5.0  # left for posting the error/answer to Slack
FAULT_MARGIN_S = 1.5  # a fault is reported within LLM_TIMEOUT_S + 2 s, posting included


@dataclass(frozen=True)
class CallLimits:
    timeout_s: float = 30.0
    budget_s: float = HEAR_BACK_S - BUDGET_MARGIN_S
    stream_max_s: float = 180.0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallLimits:
        # Backoff scales with the timeout (0.5 s .. 8 s at the default 30 s): a deployment
        # with a short timeout expects a fast model and should not wait seconds to retry.
        timeout = settings.llm_timeout_s
        return cls(
            timeout_s=timeout,
            budget_s=min(HEAR_BACK_S - BUDGET_MARGIN_S, timeout + FAULT_MARGIN_S),
            backoff_base_s=min(0.5, timeout / 10),
            backoff_max_s=min(8.0, timeout),
        )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Sleep before attempt `attempt + 1` (attempt counts from 1): exponential, equal jitter."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Deadline:
    """A point in monotonic time."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at


def parse_retry_after(headers: dict[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or
    an HTTP date. None when absent or unreadable (a bad header never breaks the call)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms", "").strip()
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            if value >= 0 and value == value:  # not NaN
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, seconds)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds
