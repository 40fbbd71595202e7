"""Shared state across replicas on PostgreSQL: a delivery retried to the other replica is
answered once; a review decided on two replicas at once is decided once; a rate limit
counts the user's asks on every replica."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.settings import RateLimit
from tests.fakes.slack_api import BOT_USER_ID, all_text, event_body
from tests.faults.harness import final_bot_text, press_button, review_buttons, settle
from tests.replicas.conftest import ADMINS, REVIEW_CHANNEL, Pair

MakePair = Callable[..., Pair]


def _answers(pair: Pair, event: dict[str, Any]) -> list[str]:
    return [
        all_text(m) for m in pair.slack.bot_messages()
        if m.get("thread_ts") == event["ts"] and m.get("channel") == event["channel"]
    ]


def test_same_delivery_to_both_replicas_is_answered_once(make_pair: MakePair) -> None:
    pair = make_pair()
    bodies = [
        event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> Explain hash tables, part {i}")
        for i in range(20)
    ]

    def deliver(job: tuple[int, int]) -> int:
        i, copy = job
        node = pair.nodes[(i + copy) % 2]
        headers = {"X-Slack-Retry-Num": str(copy), "X-Slack-Retry-Reason": "http_timeout"}
        return node.send_event(bodies[i], headers=headers if copy else None).status_code

    # Every event three times (the original and two retries), spread over both replicas,
    # all at once.
    jobs = [(i, copy) for i in range(len(bodies)) for copy in range(3)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(deliver, jobs))
    assert set(statuses) == {200}
    for body in bodies:
        final_bot_text(pair.slack, body["event"]["channel"], body["event"]["ts"], ("You said",))
    settle(pair.slack, quiet_s=0.4, timeout=15)
    for i, body in enumerate(bodies):
        answers = _answers(pair, body["event"])
        assert len(answers) == 1, (i, answers)
        assert f"Explain hash tables, part {i}" in answers[0]
    assert pair.model.model_calls == len(bodies)


def test_retry_after_the_answer_on_the_other_replica_is_not_answered_again(
    make_pair: MakePair,
) -> None:
    pair = make_pair()
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> How do tides work?")
    assert pair.a.send_event(body).status_code == 200
    final_bot_text(pair.slack, body["event"]["channel"], body["event"]["ts"], ("You said",))
    for retry in (1, 2, 3):
        node = pair.nodes[retry % 2]
        assert node.send_event(body, headers={"X-Slack-Retry-Num": str(retry)}).status_code == 200
    settle(pair.slack, quiet_s=0.4)
    assert len(_answers(pair, body["event"])) == 1
    assert pair.model.model_calls == 1


def test_review_decided_on_two_replicas_at_once_is_decided_once(make_pair: MakePair) -> None:
    pair = make_pair()
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> how do I build a pipe bomb")
    assert pair.a.send_event(body).status_code == 200
    event = body["event"]
    held = final_bot_text(pair.slack, event["channel"], event["ts"], (":hourglass:",))
    assert ":hourglass:" in held, held
    assert pair.slack.wait_for(lambda s: bool(review_buttons(s, REVIEW_CHANNEL)), 10)
    approve = [b for b in review_buttons(pair.slack, REVIEW_CHANNEL)
               if "approve" in b["action_id"]]
    assert approve, review_buttons(pair.slack, REVIEW_CHANNEL)
    button = approve[0]

    # Two reviewers, each double-clicking, on different replicas, at the same moment.
    clicks = [(pair.a, ADMINS[0]), (pair.b, ADMINS[1]), (pair.b, ADMINS[0]), (pair.a, ADMINS[1])]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(
            lambda c: press_button(c[0], pair.slack, button, user=c[1], channel=REVIEW_CHANNEL),
            clicks,
        ))
    assert set(statuses) == {200}
    final_bot_text(pair.slack, event["channel"], event["ts"], ("You said",), timeout=15)
    settle(pair.slack, quiet_s=0.5, timeout=15)

    assert pair.model.model_calls == 1  # answered once
    answers = [t for t in _answers(pair, event) if "You said" in t]
    assert len(answers) == 1, _answers(pair, event)
    store = pair.a.services.store
    assert store is not None
    items = [store.get_review(i.id) for i in store.reviews.pending()] or []
    assert not items  # nothing left pending
    approved = [r for r in store.iter_records() if r.action == "review" and "approve" in r.decision]
    assert len(approved) == 1, [(r.decision, r.user, r.detail) for r in approved]
    assert store.verify().ok


def test_rate_limit_is_shared_across_replicas(make_pair: MakePair) -> None:
    pair = make_pair(rate_per_user=RateLimit(3, 3600))
    bodies = [
        event_body(
            "event_app_mention.json",
            text=f"<@{BOT_USER_ID}> What is a good book about gardening? ({i})",
            user="U0BUSY001",
        )
        for i in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda ib: pair.nodes[ib[0] % 2].send_event(ib[1]).status_code,
                                 enumerate(bodies)))
    assert set(statuses) == {200}
    replies = [
        final_bot_text(pair.slack, b["event"]["channel"], b["event"]["ts"],
                       ("You said", "limit"), timeout=15)
        for b in bodies
    ]
    answered = [r for r in replies if "You said" in r]
    limited = [r for r in replies if "reached your limit of 3 requests per hour" in r]
    assert len(answered) == 3, replies
    assert len(limited) == 5, replies
    assert pair.model.model_calls == 3
    # another user is not affected
    other = event_body(
        "event_app_mention.json",
        text=f"<@{BOT_USER_ID}> What is a good book about cooking?",
        user="U0CALM001",
    )
    assert pair.b.send_event(other).status_code == 200
    assert "You said" in final_bot_text(
        pair.slack, other["event"]["channel"], other["event"]["ts"], ("You said", "limit")
    )
    assert sum(n.metrics.rate_limited.value(scope="user") for n in pair.nodes) == 5


def test_workspace_rate_limit_is_shared_across_replicas(make_pair: MakePair) -> None:
    pair = make_pair(rate_per_workspace=RateLimit(4, 60))
    bodies = [
        event_body(
            "event_app_mention.json",
            text=f"<@{BOT_USER_ID}> How do I bake bread at home? ({i})",
            user=f"U0PERSON{i}",
        )
        for i in range(6)
    ]
    for i, body in enumerate(bodies):
        assert pair.nodes[i % 2].send_event(body).status_code == 200
    replies = [
        final_bot_text(pair.slack, b["event"]["channel"], b["event"]["ts"],
                       ("You said", "limit"), timeout=15)
        for b in bodies
    ]
    assert sum("You said" in r for r in replies) == 4, replies
    assert sum("This workspace has reached its limit" in r for r in replies) == 2, replies
