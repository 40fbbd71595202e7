"""Shared state for many replicas: event de-duplication, rate limits, channel profiles."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.settings import RateLimit, Settings
from bot.store import Store
from tests.store.helpers import T0


def test_claim_event_once(store: Store) -> None:
    assert store.claim_event("Ev123", now=T0)
    assert not store.claim_event("Ev123", now=T0 + timedelta(seconds=5))
    assert store.claim_event("Ev124", now=T0)
    with pytest.raises(ValueError):
        store.claim_event("")


def test_claim_event_concurrent_across_instances(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    with Store.open(settings) as a, Store.open(settings) as b:
        wins: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(20)

        def deliver(k: int) -> None:
            barrier.wait()
            for n in range(10):
                if (a if k % 2 else b).claim_event(f"Ev{n}"):
                    with lock:
                        wins.append(f"Ev{n}")

        threads = [threading.Thread(target=deliver, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(wins) == sorted(f"Ev{n}" for n in range(10))  # each exactly once


def test_event_keys_expire(store: Store) -> None:
    assert store.claim_event("Ev1", now=T0)
    assert store.events.expire(now=T0 + timedelta(hours=1)) == 0
    assert store.events.expire(now=T0 + timedelta(hours=25)) == 1
    assert store.claim_event("Ev1", now=T0 + timedelta(hours=25))


def test_rate_limit_window(store: Store) -> None:
    limit = RateLimit(3, 60)
    start = T0  # at a window boundary
    assert [store.hit("U1", limit, start + timedelta(seconds=s)) for s in range(5)] == [
        True, True, True, False, False]
    assert store.hit("U2", limit, start)  # keys are independent
    assert store.hit("U1", None, start)  # no limit configured
    # the next window: the previous one still weighs (sliding), then fades out
    assert not store.hit("U1", limit, start + timedelta(seconds=61))  # 3 * 59/60 -> 3 used
    assert store.hit("U1", limit, start + timedelta(seconds=100))  # 3 * 20/60 -> 1 used
    assert store.hit("U1", limit, start + timedelta(seconds=101))
    assert not store.hit("U1", limit, start + timedelta(seconds=102))  # 1 + 2 = 3
    assert [store.hit("U1", limit, start + timedelta(seconds=181 + s)) for s in range(4)] == [
        True, True, True, False]  # the previous window (120..180 s) was empty: a full 3


def test_rate_limit_is_atomic_across_instances(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    limit = RateLimit(25, 3600)
    allowed: list[bool] = []
    lock = threading.Lock()
    with Store.open(settings) as a, Store.open(settings) as b:
        barrier = threading.Barrier(10)

        def burst(k: int) -> None:
            barrier.wait()
            for _ in range(10):
                ok = (a if k % 2 else b).hit("T1", limit, T0 + timedelta(seconds=1))
                with lock:
                    allowed.append(ok)

        threads = [threading.Thread(target=burst, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(allowed) == 100 and sum(allowed) == 25


def test_channel_profiles_audited(store: Store) -> None:
    assert store.channel_profile("C1") is None
    store.set_channel_profile("C1", "all_lawful_purposes", "UADMIN")
    store.set_channel_profile("C2", "standard", "UADMIN")
    store.set_channel_profile("C1", "standard", "UADMIN2")
    assert store.channel_profile("C1") == "standard"
    assert store.channel_profiles() == {"C1": "standard", "C2": "standard"}
    store.set_channel_profile("C2", None, "UADMIN")
    assert store.channel_profile("C2") is None
    with pytest.raises(ValueError):
        store.set_channel_profile("C1", "anything_goes", "UADMIN")
    audit = sorted(store.query_audit(), key=lambda r: r.seq)
    assert [(r.action, r.decision, r.user) for r in audit] == [
        ("admin", "profile_set", "UADMIN"), ("admin", "profile_set", "UADMIN"),
        ("admin", "profile_set", "UADMIN2"), ("admin", "profile_cleared", "UADMIN")]
    assert store.verify().ok
