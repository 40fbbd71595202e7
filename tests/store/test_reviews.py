"""Review queue on both backends: first decision wins, no self-approval, expiry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from bot.settings import Settings
from bot.store import ReviewItem, ReviewRefused, Store
from tests.store.helpers import T0


def queue(
    store: Store, user: str = "UREQ", text: str = "how do I get into alice@x.com's mail",
    now: datetime | None = None,
) -> ReviewItem:
    return store.create_review(
        request_id="req-1", team="T1", channel="C1", thread_ts="1700000000.000100", user=user,
        text=text, category="privacy", evidence=("mail of alice@x.com",),
        summary="privacy 0.71 (classifier)", profile="standard", policy_version="pv1", now=now,
    )


def test_create_get_pending_and_audit(store: Store) -> None:
    item = queue(store, now=T0)
    assert item.status == "pending" and item.id
    assert item.text == "how do I get into alice@x.com's mail"  # kept for replay
    assert item.display_text == "how do I get into [email]'s mail"
    assert item.evidence == ("mail of [email]",)
    assert item.expires_at == T0 + timedelta(hours=24)
    assert store.get_review(item.id) == item
    assert store.get_review("nope") is None
    assert [p.id for p in store.pending_reviews(now=T0)] == [item.id]
    assert store.pending_reviews(now=T0 + timedelta(hours=25)) == []
    (rec,) = store.query_audit()
    assert (rec.action, rec.decision, rec.review_id) == ("review", "review", item.id)
    assert rec.text == "how do I get into [email]'s mail"


def test_approve_wins_and_returns_original_text_once(store: Store) -> None:
    item = queue(store, now=T0)
    decided, won = store.decide_review(item.id, "UREV", True, now=T0 + timedelta(minutes=5))
    assert won and decided.status == "approved" and decided.decided_by == "UREV"
    assert decided.text == item.text  # the winner gets the text to replay
    assert store.get_review(item.id).text == ""  # …and it is gone from the database
    again, won2 = store.decide_review(item.id, "UREV2", False, "no", now=T0)
    assert not won2 and again.status == "approved" and again.decided_by == "UREV"
    decisions = [r.decision for r in sorted(store.query_audit(), key=lambda r: r.seq)]
    assert decisions == ["review", "approved", "too_late"]
    assert store.verify().ok


def test_deny_records_reason(store: Store) -> None:
    item = queue(store)
    decided, won = store.decide_review(item.id, "UREV", False, "not for work, mail bob@x.io")
    assert won and decided.status == "denied"
    assert decided.reason == "not for work, mail [email]"
    assert store.query_audit(limit=1)[0].detail == "denied by UREV: not for work, mail [email]"


def test_self_approval_refused_and_audited(store: Store) -> None:
    item = queue(store, user="UREQ")
    with pytest.raises(ReviewRefused) as refused:
        store.decide_review(item.id, "UREQ", True)
    assert refused.value.reason == "self_approval"
    assert "your own request" in str(refused.value)
    assert store.get_review(item.id).status == "pending"
    assert store.query_audit(limit=1)[0].decision == "self_approval_refused"
    # withdrawing (denying) one's own request is allowed
    _, won = store.decide_review(item.id, "UREQ", False, "withdrawn")
    assert won


def test_unknown_review_id(store: Store) -> None:
    with pytest.raises(ReviewRefused) as refused:
        store.decide_review("missing", "UREV", True)
    assert refused.value.reason == "not_found"


def _race(a: Store, b: Store, item: ReviewItem) -> list[tuple[str, bool, str]]:
    """Twenty reviewers click at the same moment; returns (reviewer, won, decided_by)."""
    outcomes: list[tuple[str, bool, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def click(k: int) -> None:
        store = a if k % 2 else b
        barrier.wait()
        got, won = store.decide_review(item.id, f"UREV{k}", k % 3 != 0, f"r{k}")
        with lock:
            outcomes.append((f"UREV{k}", won, got.decided_by or ""))

    threads = [threading.Thread(target=click, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_first_decision_wins_under_concurrency(make_settings: Callable[..., Settings]) -> None:
    """Twenty reviewers on two store instances (two replicas) click at once: one wins."""
    settings = make_settings()
    with Store.open(settings) as a, Store.open(settings) as b:
        items = [queue(a) for _ in range(5)]
        for item in items:
            outcomes = _race(a, b, item)
            winners = [o for o in outcomes if o[1]]
            assert len(outcomes) == 20 and len(winners) == 1
            assert {o[2] for o in outcomes} == {winners[0][0]}  # everyone sees the same winner
        audit = a.query_audit(limit=1000)
        assert sum(r.decision in ("approved", "denied") for r in audit) == 5
        assert sum(r.decision == "too_late" for r in audit) == 5 * 19
        assert a.verify().ok


def test_expiry_survives_restart(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(review_ttl_h=2.0)
    with Store.open(settings) as store:
        old = queue(store, now=T0)
        fresh = queue(store, now=T0 + timedelta(hours=1))
    with Store.open(settings) as store:  # a restart: the queue is in the database
        assert {p.id for p in store.pending_reviews(now=T0 + timedelta(minutes=90))} == {
            old.id, fresh.id}
        expired = store.expire_reviews(now=T0 + timedelta(hours=2, minutes=30))
        assert [e.id for e in expired] == [old.id]
        assert expired[0].status == "expired" and expired[0].text == ""
        assert store.expire_reviews(now=T0 + timedelta(hours=2, minutes=30)) == []
        assert store.query_audit(limit=1)[0].decision == "expired"
        # a click on an item past its time but not yet swept loses and expires it
        got, won = store.decide_review(fresh.id, "UREV", True, now=T0 + timedelta(hours=4))
        assert not won and got.status == "expired"
        assert store.pending_reviews(now=T0) == []
        assert store.verify().ok


def test_review_card_location(store: Store) -> None:
    item = queue(store)
    store.set_review_card(item.id, "CREVIEW", "1700000001.000200")
    got = store.get_review(item.id)
    assert (got.card_channel, got.card_ts) == ("CREVIEW", "1700000001.000200")


def test_housekeeping_returns_expired_items(make_settings: Callable[..., Settings]) -> None:
    with Store.open(make_settings(review_ttl_h=1.0)) as store:
        item = queue(store, now=T0)
        assert store.claim_event("Ev1", now=T0)
        done = store.housekeeping(now=T0 + timedelta(days=2))
        assert [e.id for e in done.expired_reviews] == [item.id]
        assert done.events_expired == 1
        assert store.claim_event("Ev1", now=T0 + timedelta(days=2))
