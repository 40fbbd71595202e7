"""`ReviewService` and `AdminService` without Slack, on a real SQLite file AND a real
PostgreSQL (own schema per test), with the real policy engine and the fake model API.

The notifier and the sink here are recorders (the Slack ones are exercised by the edge
tests); everything else is the real thing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.admin import (
    AdminService,
    AdminUsageError,
    NotAllowed,
    parse_channel,
    parse_since,
    parse_user,
)
from bot.ask import AskFlow
from bot.model import build_chat_client
from bot.policy.engine import PolicyEngine
from bot.review import Appeal, ReviewService, ReviewSweeper
from bot.settings import Settings
from bot.store import ReviewItem, Store
from bot.store.models import utcnow
from bot.types import AuditEntry, Request
from tests.fakes.model_server import FakeModelServer, Reply
from tests.fakes.sinks import RecordingSink
from tests.pg_schema import PgSchema
from tests.review.conftest import ADMIN, ADMIN2, ALICE, BOB, CYBER_TEXT, HARD_TEXT, REVIEW_TEXT

BACKENDS = ("sqlite", "postgresql")


@dataclass
class RecordingNotifier:
    cards: list[ReviewItem] = field(default_factory=list)
    updates: list[ReviewItem] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)  # (review id, outcome)
    fail_post: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_card(self, item: ReviewItem) -> tuple[str, str] | None:
        if self.fail_post:
            raise RuntimeError("slack is down")
        with self.lock:
            self.cards.append(item)
            return "C0REVIEW1", f"1.{len(self.cards):06d}"

    def update_card(self, item: ReviewItem) -> None:
        with self.lock:
            self.updates.append(item)

    def tell_requester(self, item: ReviewItem, outcome: str) -> None:
        with self.lock:
            self.told.append((item.id, outcome))


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_settings(Settings())


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.db'}"
        return
    schema = PgSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@dataclass
class World:
    settings: Settings
    store: Store
    reviews: ReviewService
    ask: AskFlow
    notifier: RecordingNotifier
    sinks: list[RecordingSink]
    model: FakeModelServer
    members: set[str]
    now: list[datetime]

    def request(self, text: str = REVIEW_TEXT, user: str = ALICE, rid: str = "r1") -> Request:
        return Request(
            text=text,
            user=user,
            channel="C0CHAN001",
            team="T1",
            source="slash",
            request_id=rid,
            thread_ts="1700000000.000100",
        )

    def hold(
        self,
        text: str = REVIEW_TEXT,
        user: str = ALICE,
        rid: str = "r1",
        now: datetime | None = None,
    ) -> str:
        sink = RecordingSink()
        saved = self.now[0]
        self.now[0] = now or saved
        try:
            outcome = self.ask.handle(self.request(text, user, rid), sink)
        finally:
            self.now[0] = saved
        assert outcome.outcome == "held", outcome
        return outcome.review_id

    def audit(self, decision: str) -> list[Any]:
        return [r for r in self.store.query_audit(limit=1000) if r.decision == decision]


def make_world(database_url: str, model: FakeModelServer, engine: PolicyEngine) -> World:
    settings = replace(
        model.settings("openai", llm_timeout_s=5.0),
        database_url=database_url,
        admins=(ADMIN, ADMIN2),
        audit_salt="svc-test-salt-0001",
    )
    store = Store.open(settings)
    now = [utcnow()]
    members: set[str] = set()
    notifier = RecordingNotifier()
    sinks: list[RecordingSink] = []

    def sink_for(item: ReviewItem) -> RecordingSink:
        sink = RecordingSink()
        sinks.append(sink)
        return sink

    chat = build_chat_client(settings)
    reviews = ReviewService(
        settings,
        store,
        notifier=notifier,
        sink_for=sink_for,
        reviewers=lambda: frozenset(members),
        clock=lambda: now[0],
        engine=engine,
        chat=chat,
    )
    ask = AskFlow(
        settings, engine, chat, audit=store, reviews=reviews, channel_profiles=store.channel_profile
    )
    reviews.bind(ask=ask)
    return World(settings, store, reviews, ask, notifier, sinks, model, members, now)


@pytest.fixture
def world(database_url: str, model: FakeModelServer, engine: PolicyEngine) -> Iterator[World]:
    w = make_world(database_url, model, engine)
    try:
        yield w
    finally:
        w.store.close()


def test_hold_queues_posts_the_card_and_records_it(world: World) -> None:
    review_id = world.hold()
    item = world.store.get_review(review_id)
    assert item is not None and item.status == "pending"
    assert item.category == "weapons_development" and item.thread_ts == "1700000000.000100"
    assert (item.card_channel, item.card_ts) == ("C0REVIEW1", "1.000001")
    assert [c.id for c in world.notifier.cards] == [review_id]
    assert world.model.model_calls == 0


def test_approve_answers_in_the_original_thread(world: World) -> None:
    review_id = world.hold()
    result = world.reviews.approve(review_id, ADMIN)
    assert result.outcome == "approved"
    [sink] = world.sinks
    assert sink.kinds()[-1] == "finished"
    assert sink.events[-1][1] == f"You said: {REVIEW_TEXT}"
    assert world.model.requests[-1].last_user_text == REVIEW_TEXT
    assert [u.status for u in world.notifier.updates] == ["approved"]
    assert world.notifier.told == [(review_id, "approved")]
    responses = [r for r in world.store.query_audit(limit=100) if r.action == "response"]
    assert len(responses) == 1 and responses[0].detail == "review"


def test_an_approved_answer_that_trips_a_hard_limit_is_still_withheld(world: World) -> None:
    review_id = world.hold()
    world.model.script(Reply(text=f"Sure. Step one: {HARD_TEXT}, using the precursors."))
    assert world.reviews.approve(review_id, ADMIN).outcome == "approved"
    [sink] = world.sinks
    assert "finished" not in sink.kinds()
    retracted = [v for k, v in sink.events if k == "retract"]
    assert retracted and retracted[0].hard_limit


def test_concurrent_approvals_one_winner_one_answer(world: World) -> None:
    review_id = world.hold()
    reviewers = [ADMIN, ADMIN2, *(f"U0REV{i:04d}" for i in range(6))]
    world.members.update(reviewers)
    start = threading.Barrier(len(reviewers))
    results: dict[str, str] = {}

    def press(user: str) -> None:
        start.wait()
        results[user] = world.reviews.approve(review_id, user).outcome

    threads = [threading.Thread(target=press, args=(u,)) for u in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(results.values())
    assert outcomes.count("approved") == 1
    assert outcomes.count("already_decided") == len(reviewers) - 1
    assert world.model.model_calls == 1 and len(world.sinks) == 1
    assert len(world.audit("approved")) == 1
    assert len(world.audit("too_late")) == len(reviewers) - 1


def test_self_approval_is_refused_and_audited(world: World) -> None:
    review_id = world.hold(user=ADMIN)
    result = world.reviews.approve(review_id, ADMIN)
    assert result.outcome == "self_approval"
    assert world.model.model_calls == 0 and world.sinks == []
    assert len(world.audit("self_approval_refused")) == 1
    assert world.reviews.approve(review_id, ADMIN2).outcome == "approved"


def test_non_reviewers_are_refused_and_the_group_lookup_fails_closed(world: World) -> None:
    review_id = world.hold()
    assert world.reviews.approve(review_id, BOB).outcome == "not_allowed"
    assert world.reviews.deny(review_id, BOB, "no").outcome == "not_allowed"

    def broken() -> frozenset[str]:
        raise ConnectionError("slack unreachable")

    world.members.add("U0MEMBER1")
    world.reviews.bind(reviewers=broken)
    assert world.reviews.approve(review_id, "U0MEMBER1").outcome == "not_allowed"
    attempts = world.audit("denied_access")
    assert [a.user for a in attempts] == ["U0MEMBER1", BOB, BOB]  # newest first
    assert all(a.review_id == review_id for a in attempts)
    item = world.store.get_review(review_id)
    assert item is not None and item.status == "pending"


def test_deny_needs_a_reason_and_tells_the_requester(world: World) -> None:
    review_id = world.hold()
    assert world.reviews.deny(review_id, ADMIN, "   ").outcome == "reason_required"
    result = world.reviews.deny(review_id, ADMIN, "Needs the programme office first.")
    assert result.outcome == "denied" and result.item is not None
    assert result.item.reason == "Needs the programme office first."
    assert world.notifier.told == [(review_id, "denied")]
    assert world.model.model_calls == 0
    assert world.reviews.approve(review_id, ADMIN2).outcome == "already_decided"


def test_expiry_tells_requesters_once_and_survives_a_restart(
    world: World, database_url: str, model: FakeModelServer, engine: PolicyEngine
) -> None:
    first = world.hold(rid="r1")
    world.store.close()
    later = make_world(database_url, model, engine)  # a restart: a new process's store
    try:
        assert [i.id for i in later.store.pending_reviews()] == [first]
        second = later.hold(rid="r2")
        later.now[0] = utcnow() + timedelta(hours=later.settings.review_ttl_h, minutes=1)
        sweeper = ReviewSweeper(later.reviews, later.store)
        assert sweeper.sweep(later.now[0]) == 2
        assert sorted(later.notifier.told) == sorted([(first, "expired"), (second, "expired")])
        assert sweeper.sweep(later.now[0]) == 0
        assert later.reviews.expire() == []
        assert len(later.notifier.told) == 2
        assert later.reviews.approve(first, ADMIN).outcome == "expired"
        assert later.model.model_calls == 0
    finally:
        later.store.close()
        world.store = Store.open(world.settings)  # the fixture closes it again


def test_a_card_that_cannot_be_posted_leaves_the_item_queued(world: World) -> None:
    world.notifier.fail_post = True
    review_id = world.hold()
    item = world.store.get_review(review_id)
    assert item is not None and item.status == "pending" and item.card_ts == ""
    assert len(world.audit("card_failed")) == 1
    assert world.reviews.approve(review_id, ADMIN).outcome == "approved"


def test_appeal_is_rechecked_only_restricted_and_only_once(world: World) -> None:
    appeal = Appeal(
        request_id="r9",
        user=ALICE,
        channel="C0CHAN001",
        thread_ts="1.2",
        text=CYBER_TEXT,
        category="offensive_cyber",
        team="T1",
    )
    assert world.reviews.appeal(appeal, BOB).outcome == "not_allowed"
    result = world.reviews.appeal(appeal, ALICE)
    assert result.outcome == "queued" and result.item is not None
    assert result.item.category == "offensive_cyber"
    assert world.reviews.appeal(appeal, ALICE).outcome == "duplicate"
    hard = replace(appeal, request_id="r10", text=HARD_TEXT, category="offensive_cyber")
    assert world.reviews.appeal(hard, ALICE).outcome == "hard_limit"
    named_hard = replace(appeal, request_id="r11", category="cbrn_weapons")
    assert world.reviews.appeal(named_hard, ALICE).outcome == "hard_limit"
    assert len(world.notifier.cards) == 1
    assert world.reviews.approve(result.item.id, ADMIN).outcome == "approved"
    assert world.sinks[0].kinds()[-1] == "finished"


# --- AdminService ------------------------------------------------------------------------


def test_admin_service_refuses_and_audits_non_admins(world: World, engine: PolicyEngine) -> None:
    admin = AdminService(world.settings, world.store, engine)
    with pytest.raises(NotAllowed):
        admin.stats(BOB)
    with pytest.raises(NotAllowed):
        admin.set_profile(BOB, "all_lawful_purposes", current_channel="C0CHAN001")
    assert [r.detail for r in world.audit("denied_access")] == [
        "/redline profile set by a non-admin",
        "/redline stats by a non-admin",
    ]
    assert world.store.channel_profile("C0CHAN001") is None


def test_admin_profile_set_and_clear(world: World, engine: PolicyEngine) -> None:
    admin = AdminService(world.settings, world.store, engine)
    change = admin.set_profile(
        ADMIN, "all_lawful_purposes <#C0OTHER01|x>", current_channel="C0CHAN001"
    )
    assert change.channel == "C0OTHER01" and change.previous == "standard"
    assert dict(change.decisions)["offensive_cyber"] == "review"
    assert "cbrn_weapons" not in dict(change.decisions)
    assert world.ask.check(CYBER_TEXT, "C0OTHER01").decision == "review"
    assert world.ask.check(HARD_TEXT, "C0OTHER01").decision == "refuse"
    assert world.ask.check(CYBER_TEXT, "C0CHAN001").decision == "refuse"
    admin.set_profile(ADMIN, "default C0OTHER01", current_channel="C0CHAN001")
    assert world.store.channel_profile("C0OTHER01") is None
    with pytest.raises(AdminUsageError):
        admin.set_profile(ADMIN, "", current_channel="C0CHAN001")
    with pytest.raises(AdminUsageError):
        admin.set_profile(ADMIN, "standard C0A C0B", current_channel="C0CHAN001")


def test_argument_parsers() -> None:
    now = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("today", now) == datetime(2026, 11, 29, tzinfo=UTC)
    assert parse_since("yesterday", now) == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("soon", now) is None
    assert parse_user("<@U0ALICE01|alice>") == "U0ALICE01"
    assert parse_user("<@U0ALICE01>") == "U0ALICE01"
    assert parse_user("U0ALICE01") == "U0ALICE01"
    assert parse_user("@alice") is None
    assert parse_channel("<#C0CHAN001|general>") == "C0CHAN001"
    assert parse_channel("#general") is None


def test_parse_audit_in_any_order(world: World, engine: PolicyEngine) -> None:
    admin = AdminService(world.settings, world.store, engine)
    f = admin.parse_audit("7d offensive_cyber <@U0ALICE01>")
    assert (f.user, f.category) == ("U0ALICE01", "offensive_cyber") and f.since is not None
    with pytest.raises(AdminUsageError):
        admin.parse_audit("<@U0ALICE01> <@U0BOB0001>")


def test_the_sweeper_thread_expires_tells_and_purges(
    database_url: str, model: FakeModelServer, engine: PolicyEngine
) -> None:
    w = make_world(database_url, model, engine)
    try:
        old = utcnow() - timedelta(days=40)
        w.store.record(
            AuditEntry(
                action="request",
                request_id="old",
                team="T1",
                channel="C1",
                user=BOB,
                profile="standard",
                decision="allow",
            ),
            now=old,
        )
        review_id = w.hold(rid="r1", now=utcnow() - timedelta(hours=w.settings.review_ttl_h + 1))
        store = Store.open(replace(w.settings, retention_days=30))
        try:
            sweeper = ReviewSweeper(w.reviews, store, interval_s=0.05).start()
            try:
                assert model_wait(lambda: (review_id, "expired") in w.notifier.told)
                assert model_wait(
                    lambda: (
                        store.verify().ok
                        and not any(r.request_id == "old" for r in store.query_audit(limit=100))
                    )
                )
            finally:
                sweeper.stop()
            assert w.notifier.told == [(review_id, "expired")]  # told once, however many sweeps
            assert store.verify().ok
        finally:
            store.close()
    finally:
        w.store.close()


def model_wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
