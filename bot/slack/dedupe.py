"""Event claims: the first delivery of an event wins, every retry is dropped.

Slack redelivers an event (same `event_id`, with `X-Slack-Retry-Num`) when it did not see
our ack in time. `claim(key)` returns True exactly once per key, so only one delivery is
ever answered. The in-memory store covers one process; the database-backed store
(`services.store.claim_event`) covers restarts and several processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol


class EventClaims(Protocol):
    def claim(self, key: str) -> bool:
        """True the first time `key` is seen (within the store's memory), else False."""
        ...


class MemoryEventClaims:
    """Thread-safe TTL set. Slack retries within ~5 minutes, so a 1-hour TTL is ample;
    `max_keys` bounds memory under a flood (oldest forgotten first)."""

    def __init__(
        self,
        ttl_s: float = 3600.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_s
        self._max = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen:
                oldest_key, at = next(iter(self._seen.items()))
                if now - at < self._ttl and len(self._seen) < self._max:
                    break
                del self._seen[oldest_key]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


class StoreClaims:
    """Durable claims in the database (`store.claim_event`): shared by every replica and
    kept across restarts. Checked in the worker, after the ack: a SQLite write per event
    on the ack path would queue acks behind each other under a burst.

    If the database errors, the delivery counts as first: the in-process claim has
    already dropped same-process duplicates, and the audit write that follows fails
    closed on its own if the database is really down."""

    def __init__(self, claim_event: Callable[[str], bool]) -> None:
        self._claim_event = claim_event

    def claim(self, key: str) -> bool:
        try:
            return bool(self._claim_event(key))
        except Exception as exc:
            logging.getLogger(__name__).warning(
                "store claim_event failed (%s); processing once here", type(exc).__name__
            )
            return True


def durable_claims(services: Any) -> EventClaims | None:
    """The store's durable claims when the store offers them."""
    store = getattr(services, "store", None)
    claim_event = getattr(store, "claim_event", None)
    return StoreClaims(claim_event) if callable(claim_event) else None


def event_key(body: Any) -> str | None:
    """The claim key of an Events API delivery (None for commands and interactions)."""
    if isinstance(body, dict) and body.get("type") == "event_callback" and body.get("event_id"):
        return f"slack-event:{body['event_id']}"
    return None
