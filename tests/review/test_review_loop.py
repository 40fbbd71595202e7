"""The review loop through the Slack edge: held request → card in the review channel →
Approve / Deny (modal) by a reviewer → answer or reason in the original thread."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.slack import review_cards
from bot.slack.review_notifier import GroupMembers
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack, all_text
from tests.review.conftest import (
    ADMIN,
    ADMIN2,
    ALICE,
    BOB,
    CHANNEL,
    GROUP,
    MEMBER,
    REVIEW_CHANNEL,
    REVIEW_TEXT,
    Redline,
    action_value,
    start_redline,
    stop_redline,
)


def held(redline: Redline, text: str = REVIEW_TEXT, user: str = ALICE) -> tuple[str, dict]:
    """Ask something that needs review; return (thread ts, the review card)."""
    n = len(redline.cards())
    thread = redline.ask(text, user=user)
    return thread, redline.wait_card(n + 1)


def approve(redline: Redline, card: dict, user: str) -> None:
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id
    resp = redline.click(
        review_cards.APPROVE_ACTION,
        review_id,
        user=user,
        channel=REVIEW_CHANNEL,
        message_ts=card["ts"],
    )
    assert resp.status_code == 200


def current(redline: Redline, card: dict) -> dict:
    msg = redline.slack.message(REVIEW_CHANNEL, card["ts"])
    assert msg is not None
    return msg


def test_review_decision_holds_the_request_and_posts_a_card(redline: Redline) -> None:
    thread, card = held(redline)
    assert "held for human review" in redline.thread_text(thread)
    text = all_text(card)
    assert "weapons_development" in text and f"<@{ALICE}>" in text
    assert "artillery shell fuze" in text  # the (redacted) request is on the card
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id and action_value(card, review_cards.DENY_ACTION) == review_id
    assert review_id in redline.thread_text(thread)
    assert redline.model.model_calls == 0
    item = redline.reviews._store.get_review(review_id)
    assert item is not None and item.status == "pending"
    assert (item.card_channel, item.card_ts) == (REVIEW_CHANNEL, card["ts"])


def test_reviewer_approves_and_the_answer_lands_in_the_original_thread(
    redline: Redline,
) -> None:
    thread, card = held(redline)
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))
    redline.settle()
    assert redline.model.model_calls == 1
    assert redline.model.requests[-1].last_user_text == REVIEW_TEXT
    assert "reviewer approved" in redline.thread_text(thread)
    updated = current(redline, card)
    assert f"Approved* by <@{ADMIN}>" in all_text(updated)
    assert action_value(updated, review_cards.APPROVE_ACTION) is None  # buttons gone
    decisions = [r.decision for r in redline.audit() if r.action == "review"]
    assert "review" in decisions and "approved" in decisions
    assert redline.responses("act") == []  # nothing to tell the reviewer privately


def test_a_reviewer_group_member_can_approve(redline: Redline) -> None:
    thread, card = held(redline)
    approve(redline, card, MEMBER)
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))
    assert f"by <@{MEMBER}>" in all_text(current(redline, card))


def test_deny_with_a_reason_via_the_modal(redline: Redline) -> None:
    thread, card = held(redline)
    review_id = action_value(card, review_cards.DENY_ACTION)
    assert review_id
    redline.click(
        review_cards.DENY_ACTION,
        review_id,
        user=ADMIN,
        channel=REVIEW_CHANNEL,
        message_ts=card["ts"],
    )
    assert redline.wait(lambda: bool(redline.slack.calls_to("views.open")))
    view = redline.slack.calls_to("views.open")[0].params["view"]
    assert view["callback_id"] == review_cards.DENY_MODAL
    reason = "Fuze design work needs the programme office's sign-off first."
    resp = redline.submit_view(
        view,
        user=ADMIN,
        values={
            review_cards.REASON_BLOCK: {
                review_cards.REASON_INPUT: {"type": "plain_text_input", "value": reason}
            }
        },
    )
    assert resp.status_code == 200
    assert redline.wait(lambda: reason in redline.thread_text(thread))
    redline.settle()
    assert "denied this request" in redline.thread_text(thread)
    assert redline.model.model_calls == 0
    text = all_text(current(redline, card))
    assert f"Denied* by <@{ADMIN}>" in text and reason in text
    denied = redline.audit("denied")
    assert len(denied) == 1 and reason in denied[0].detail


def test_deny_modal_needs_a_reason(redline: Redline) -> None:
    _, card = held(redline)
    review_id = action_value(card, review_cards.DENY_ACTION)
    assert review_id
    view = review_cards.deny_modal(review_id)
    resp = redline.submit_view(
        view,
        user=ADMIN,
        values={review_cards.REASON_BLOCK: {review_cards.REASON_INPUT: {"value": "   "}}},
    )
    assert resp.status_code == 200
    assert resp.json()["response_action"] == "errors"
    redline.settle()
    item = redline.reviews._store.get_review(review_id)
    assert item is not None and item.status == "pending"


def test_nobody_approves_their_own_request(redline: Redline) -> None:
    thread, card = held(redline, user=ADMIN)  # an admin asking is still a requester
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: bool(redline.responses("act")))
    redline.settle()
    assert "can't approve your own request" in redline.responses("act")[0]["text"]
    assert redline.model.model_calls == 0
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    item = redline.reviews._store.get_review(str(review_id))
    assert item is not None and item.status == "pending"
    assert len(redline.audit("self_approval_refused")) == 1
    approve(redline, card, ADMIN2)  # another reviewer still can
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))


def test_two_clicks_give_one_decision_and_one_answer(redline: Redline) -> None:
    thread, card = held(redline)
    approve(redline, card, ADMIN)
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))
    assert redline.wait(lambda: bool(redline.responses("act")))
    redline.settle()
    assert redline.model.model_calls == 1
    answers = [m for m in redline.replies(thread) if "You said:" in all_text(m)]
    assert len(answers) == 1
    assert "Already approved" in redline.responses("act")[0]["text"]
    assert len(redline.audit("approved")) == 1


def test_two_reviewers_at_the_same_time_one_decision(redline: Redline) -> None:
    thread, card = held(redline)
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id
    start = threading.Barrier(2)
    codes: list[int] = []

    def press(user: str) -> None:
        start.wait()
        codes.append(
            redline.click(
                review_cards.APPROVE_ACTION,
                review_id,
                user=user,
                channel=REVIEW_CHANNEL,
                message_ts=card["ts"],
            ).status_code
        )

    threads = [threading.Thread(target=press, args=(u,)) for u in (ADMIN, ADMIN2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))
    assert redline.wait(lambda: bool(redline.responses("act")))
    redline.settle()
    assert redline.model.model_calls == 1
    approved = redline.audit("approved")
    assert len(approved) == 1
    loser = ADMIN2 if approved[0].user == ADMIN else ADMIN
    assert f"<@{approved[0].user}>" in redline.responses("act")[0]["text"]
    assert len([r for r in redline.audit("too_late") if r.user == loser]) == 1
    assert f"by <@{approved[0].user}>" in all_text(current(redline, card))


def test_pending_item_expires_requester_told_buttons_say_expired(redline: Redline) -> None:
    thread, card = held(redline)
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id
    redline.clock.offset = timedelta(hours=redline.settings.review_ttl_h, minutes=1)
    expired = redline.reviews.expire()
    assert [i.id for i in expired] == [review_id]
    assert redline.wait(lambda: "No reviewer decided" in redline.thread_text(thread))
    updated = current(redline, card)
    assert "Expired" in all_text(updated)
    assert action_value(updated, review_cards.APPROVE_ACTION) is None
    # a stale button (an old copy of the card) changes nothing and says why
    redline.click(
        review_cards.APPROVE_ACTION,
        review_id,
        user=ADMIN,
        channel=REVIEW_CHANNEL,
        message_ts=card["ts"],
        message=card,
    )
    assert redline.wait(lambda: bool(redline.responses("act")))
    redline.settle()
    assert "expired" in redline.responses("act")[0]["text"]
    assert redline.model.model_calls == 0
    assert len(redline.audit("expired")) == 1


def test_click_past_the_ttl_before_the_sweep_expires_it(redline: Redline) -> None:
    thread, card = held(redline)
    redline.clock.offset = timedelta(hours=redline.settings.review_ttl_h, seconds=5)
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: "No reviewer decided" in redline.thread_text(thread))
    redline.settle()
    assert redline.model.model_calls == 0
    assert "Expired" in all_text(current(redline, card))
    assert redline.reviews.expire() == []  # already expired: nobody told twice
    redline.settle()
    told = [m for m in redline.replies(thread) if "No reviewer decided" in all_text(m)]
    assert len(told) == 1


def test_non_reviewer_pressing_the_buttons_is_not_allowed_and_audited(
    redline: Redline,
) -> None:
    _, card = held(redline)
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id
    approve(redline, card, BOB)
    redline.click(
        review_cards.DENY_ACTION, review_id, user=BOB, channel=REVIEW_CHANNEL, message_ts=card["ts"]
    )
    assert redline.wait(lambda: len(redline.responses("act")) >= 2)
    redline.settle()
    for reply in redline.responses("act"):
        assert reply["text"].startswith("Not allowed")
        assert reply["response_type"] == "ephemeral"
    assert redline.slack.calls_to("views.open") == []
    assert redline.model.model_calls == 0
    attempts = [r for r in redline.audit("denied_access") if r.user == BOB]
    assert len(attempts) == 2 and all(r.review_id == review_id for r in attempts)
    item = redline.reviews._store.get_review(review_id)
    assert item is not None and item.status == "pending"


def test_card_says_nothing_when_no_review_channel_but_item_is_queued(
    redline: Redline,
) -> None:
    redline.reviews._notifier._channel = ""  # type: ignore[union-attr]
    thread = redline.ask(REVIEW_TEXT)
    redline.settle()
    assert "held for human review" in redline.thread_text(thread)
    assert redline.cards() == []
    pending = redline.reviews._store.pending_reviews()
    assert len(pending) == 1
    assert len(redline.audit("card_failed")) == 1
    assert pending[0].channel == CHANNEL


def test_a_pending_review_survives_a_restart(
    redline: Redline,
    fake_slack: FakeSlack,
    fake_model: FakeModelServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread, card = held(redline)
    redline.settle()
    redline.http.close()
    redline.services.close()  # the first process goes away; its database file stays
    again, server, t = start_redline(fake_slack, fake_model, tmp_path / "redline.db", monkeypatch)
    try:
        approve(again, card, ADMIN)
        assert again.wait(lambda: f"You said: {REVIEW_TEXT}" in again.thread_text(thread))
        assert f"Approved* by <@{ADMIN}>" in all_text(current(again, card))
    finally:
        stop_redline(again, server, t)


def test_reviewer_group_members_may_list_the_queue(redline: Redline) -> None:
    held(redline)
    redline.slash("/redline", "review", user=MEMBER)
    assert redline.wait(lambda: bool(redline.responses("cmd")))
    assert "Pending reviews (1)" in all_text(redline.responses("cmd")[0])


def test_the_card_shows_the_request_redacted_the_model_gets_it_whole(redline: Redline) -> None:
    text = f"{REVIEW_TEXT}; send the drawings to alice.smith@example.com or call +1 415 555 0100"
    thread, card = held(redline, text=text)
    card_text = all_text(card)
    assert "alice.smith@example.com" not in card_text and "[email]" in card_text
    assert "555 0100" not in card_text and "[phone]" in card_text
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: redline.model.model_calls == 1)
    assert redline.model.requests[-1].last_user_text == text


def test_a_card_update_failure_does_not_stop_the_answer(redline: Redline) -> None:
    thread, card = held(redline)
    redline.slack.fail("chat.update", error="message_not_found")
    approve(redline, card, ADMIN)
    assert redline.wait(lambda: f"You said: {REVIEW_TEXT}" in redline.thread_text(thread))
    assert len(redline.audit("approved")) == 1


def test_reviewer_group_lookup_is_cached_and_fails_closed(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    members = GroupMembers(client, GROUP, ttl_s=3600)
    assert members() == frozenset({MEMBER})
    assert members() == frozenset({MEMBER})
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1
    assert GroupMembers(client, "S0NOSUCH1")() == frozenset()
    fake_slack.fail("usergroups.users.list", status=500, times=5)
    assert GroupMembers(client, GROUP)() == frozenset()
    assert GroupMembers(client, "")() == frozenset()
