"""Event claims: first delivery wins, under concurrency and across the TTL."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from bot.slack.dedupe import MemoryEventClaims, durable_claims, event_key


def test_claim_once() -> None:
    claims = MemoryEventClaims()
    assert claims.claim("Ev1") is True
    assert claims.claim("Ev1") is False
    assert claims.claim("Ev2") is True


def test_claims_expire_after_ttl_and_are_bounded() -> None:
    now = [0.0]
    claims = MemoryEventClaims(ttl_s=10, max_keys=3, clock=lambda: now[0])
    assert claims.claim("a")
    now[0] = 11
    assert claims.claim("a")  # expired: a new delivery window
    for key in ("b", "c", "d"):
        assert claims.claim(key)
    assert claims.claim("a")  # evicted as the oldest once over max_keys


def test_concurrent_deliveries_only_one_wins() -> None:
    claims = MemoryEventClaims()
    wins: list[bool] = []
    barrier = threading.Barrier(16)

    def deliver() -> None:
        barrier.wait()
        wins.append(claims.claim("EvSame"))

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_durable_claims_use_the_store_and_count_a_database_error_as_first() -> None:
    seen: set[str] = set()

    def claim_event(key: str) -> bool:
        if key == "boom":
            raise RuntimeError("database is down")
        first = key not in seen
        seen.add(key)
        return first

    claims = durable_claims(SimpleNamespace(store=SimpleNamespace(claim_event=claim_event)))
    assert claims is not None
    assert claims.claim("k") and not claims.claim("k")
    assert "k" in seen
    assert claims.claim("boom") is True  # in-process dedupe already happened on the ack path
    assert durable_claims(SimpleNamespace(store=None)) is None


def test_event_key_only_for_event_callbacks() -> None:
    assert event_key({"type": "event_callback", "event_id": "Ev1"}) == "slack-event:Ev1"
    assert event_key({"type": "event_callback"}) is None
    assert event_key({"command": "/ask"}) is None
    assert event_key("not a dict") is None
