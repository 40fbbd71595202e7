"""Appeals, admin subcommands, channel profiles and App Home, through the Slack edge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack import admin_views, review_cards
from tests.fakes.slack_api import all_text
from tests.review.conftest import (
    ADMIN,
    ADMIN2,
    ALICE,
    BOB,
    CHANNEL,
    CYBER_TEXT,
    HARD_TEXT,
    OTHER_CHANNEL,
    REVIEW_CHANNEL,
    REVIEW_TEXT,
    Redline,
    action_value,
)


def refusal(redline: Redline, thread: str) -> dict[str, Any]:
    replies = redline.replies(thread)
    assert replies, "no reply in the thread"
    return replies[-1]


def command(redline: Redline, text: str, user: str, channel: str = CHANNEL) -> dict[str, Any]:
    """A `/redline` subcommand; returns its private answer (response_url or the ack body)."""
    before = len(redline.responses("cmd"))
    resp = redline.slash("/redline", text, user=user, channel=channel)
    assert resp.status_code == 200
    assert redline.wait(lambda: len(redline.responses("cmd")) > before)
    return redline.responses("cmd")[before]


# --- appeal ------------------------------------------------------------------------------


def test_restricted_refusal_has_a_request_review_button_that_queues_it(
    redline: Redline,
) -> None:
    thread = redline.ask(CYBER_TEXT)
    message = refusal(redline, thread)
    assert "offensive_cyber" in all_text(message)
    value = action_value(message, review_cards.APPEAL_ACTION)
    assert value is not None
    redline.click(
        review_cards.APPEAL_ACTION, value, user=ALICE, channel=CHANNEL, message_ts=message["ts"]
    )
    card = redline.wait_card(1)
    assert "Appeal of a refusal" in all_text(card) and "offensive_cyber" in all_text(card)
    assert redline.wait(
        lambda: (
            action_value(
                redline.slack.message(CHANNEL, message["ts"]) or {}, review_cards.APPEAL_ACTION
            )
            is None
        )
    )
    assert "Review requested" in all_text(redline.slack.message(CHANNEL, message["ts"]) or {})
    assert len(redline.audit("appealed")) == 1
    # a reviewer approves the appeal: the answer lands in the original thread
    review_id = action_value(card, review_cards.APPROVE_ACTION)
    assert review_id
    redline.click(
        review_cards.APPROVE_ACTION,
        review_id,
        user=ADMIN,
        channel=REVIEW_CHANNEL,
        message_ts=card["ts"],
    )
    assert redline.wait(lambda: f"You said: {CYBER_TEXT}" in redline.thread_text(thread))
    assert redline.model.model_calls == 1


def test_hard_limit_refusal_has_no_button(redline: Redline) -> None:
    thread = redline.ask(HARD_TEXT)
    message = refusal(redline, thread)
    assert "cbrn_weapons" in all_text(message)
    assert action_value(message, review_cards.APPEAL_ACTION) is None
    assert redline.model.model_calls == 0


def test_a_forged_appeal_of_a_hard_limit_is_refused(redline: Redline) -> None:
    """The button is re-checked server-side: a value naming a hard-limit text never queues."""
    thread = redline.ask(HARD_TEXT)
    message = refusal(redline, thread)
    ref = review_cards.AppealRef(
        request_id="r1",
        user=ALICE,
        channel=CHANNEL,
        thread_ts=thread,
        team="T",
        category="offensive_cyber",
        profile="standard",
        text=HARD_TEXT,
    )
    redline.click(
        review_cards.APPEAL_ACTION,
        review_cards.appeal_value(ref),
        user=ALICE,
        channel=CHANNEL,
        message_ts=message["ts"],
    )
    assert redline.wait(lambda: bool(redline.responses("act")))
    redline.settle()
    assert "hard limit" in redline.responses("act")[0]["text"]
    assert redline.cards() == []
    assert len(redline.audit("appeal_refused")) == 1


def test_only_the_requester_can_appeal_and_twice_queues_once(redline: Redline) -> None:
    thread = redline.ask(CYBER_TEXT)
    message = refusal(redline, thread)
    value = action_value(message, review_cards.APPEAL_ACTION)
    assert value is not None
    redline.click(
        review_cards.APPEAL_ACTION,
        value,
        user=BOB,
        channel=CHANNEL,
        message_ts=message["ts"],
        message=message,
    )
    assert redline.wait(lambda: bool(redline.responses("act")))
    assert "Only the person who asked" in redline.responses("act")[0]["text"]
    for _ in range(2):
        redline.click(
            review_cards.APPEAL_ACTION,
            value,
            user=ALICE,
            channel=CHANNEL,
            message_ts=message["ts"],
            message=message,
        )
    assert redline.wait(lambda: len(redline.responses("act")) >= 2)
    redline.settle()
    assert len(redline.cards()) == 1
    assert "already requested" in redline.responses("act")[1]["text"]
    assert [r.user for r in redline.audit("denied_access")] == [BOB]


# --- admin subcommands -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sub",
    [
        "audit",
        "stats",
        "review",
        "profile set all_lawful_purposes",
        f"audit <@{ALICE}> offensive_cyber 7d",
    ],
)
def test_non_admin_gets_not_allowed_and_the_attempt_is_audited(redline: Redline, sub: str) -> None:
    reply = command(redline, sub, BOB)
    assert reply["response_type"] == "ephemeral"
    assert "Not allowed" in all_text(reply)
    attempts = [r for r in redline.audit("denied_access") if r.user == BOB]
    assert len(attempts) == 1 and sub.split()[0] in attempts[0].detail
    assert redline.reviews._store.channel_profile(CHANNEL) is None


def test_audit_lists_latest_records_with_filters_and_pages(redline: Redline) -> None:
    for i in range(12):
        redline.services.ask.check(f"what is {i} + {i}?", CHANNEL)  # no audit: check only
    for _ in range(11):
        redline.slash("/ask", HARD_TEXT, user=ALICE)
    redline.slash("/ask", "what is the capital of France?", user=BOB)
    assert redline.wait(lambda: len([r for r in redline.audit() if r.action == "request"]) >= 12)
    redline.settle()
    reply = command(redline, f"audit <@{ALICE}> cbrn_weapons 1d", ADMIN)
    text = all_text(reply)
    assert "1–10 of 11" in text
    assert text.count("cbrn_weapons") >= 10 and f"<@{BOB}>" not in text
    nxt = action_value(reply, admin_views.AUDIT_NEXT)
    assert nxt is not None and action_value(reply, admin_views.AUDIT_PREV) is None
    redline.click(
        admin_views.AUDIT_NEXT, nxt, user=ADMIN, channel=CHANNEL, message_ts="1.1", message=reply
    )
    assert redline.wait(lambda: bool(redline.responses("act")))
    page2 = redline.responses("act")[0]
    assert page2["replace_original"] is True
    assert "11–11 of 11" in all_text(page2)
    assert action_value(page2, admin_views.AUDIT_PREV) is not None
    assert len(redline.audit("audit_query")) == 2  # each look at the log is itself logged
    # a non-admin pressing a page button of an admin's message is still refused
    redline.click(
        admin_views.AUDIT_PREV, nxt, user=BOB, channel=CHANNEL, message_ts="1.1", message=reply
    )
    assert redline.wait(lambda: len(redline.responses("act")) >= 2)
    assert "Not allowed" in all_text(redline.responses("act")[1])


def test_audit_with_bad_arguments_says_what_it_expects(redline: Redline) -> None:
    reply = command(redline, "audit nonsense", ADMIN)
    text = all_text(reply)
    assert "Didn't understand `nonsense`" in text and "offensive_cyber" in text


def test_stats_shows_counts_refusal_rate_and_busiest_channels(redline: Redline) -> None:
    redline.ask(HARD_TEXT)
    redline.ask("what is the capital of France?")
    redline.ask("what is the capital of Spain?", channel=OTHER_CHANNEL)
    redline.settle()
    text = all_text(command(redline, "stats today", ADMIN))
    assert "Refusal rate" in text and "33.3%" in text
    assert "cbrn_weapons" in text
    assert f"1. <#{CHANNEL}>: 2" in text and f"<#{OTHER_CHANNEL}>: 1" in text


def test_review_lists_pending_items_with_their_buttons(redline: Redline) -> None:
    redline.ask(REVIEW_TEXT)
    redline.wait_card(1)
    reply = command(redline, "review", ADMIN)
    review_id = action_value(reply, review_cards.APPROVE_ACTION)
    assert review_id == action_value(redline.cards()[0], review_cards.APPROVE_ACTION)
    assert "Pending reviews (1)" in all_text(reply)


def test_profile_set_changes_restricted_decisions_never_hard_limits(redline: Redline) -> None:
    reply = command(redline, f"profile set all_lawful_purposes <#{CHANNEL}|general>", ADMIN)
    assert "now uses the `all_lawful_purposes` profile" in all_text(reply)
    assert redline.reviews._store.channel_profile(CHANNEL) == "all_lawful_purposes"
    assert len(redline.audit("profile_set")) == 1
    # offensive_cyber: refused under standard, held for review here
    thread = redline.ask(CYBER_TEXT)
    assert "held for human review" in redline.thread_text(thread)
    redline.wait_card(1)
    # a hard limit is refused whatever the profile
    thread = redline.ask(HARD_TEXT)
    assert "hard limit" in redline.thread_text(thread)
    # another channel keeps the default
    thread = redline.ask(CYBER_TEXT, channel=OTHER_CHANNEL)
    assert "I can't help" in redline.thread_text(thread, OTHER_CHANNEL)
    # back to the default
    command(redline, "profile set default", ADMIN2)
    assert redline.reviews._store.channel_profile(CHANNEL) is None
    redline.settle()
    assert redline.model.model_calls == 0


def test_profile_set_rejects_unknown_profiles_and_channels(redline: Redline) -> None:
    assert "Unknown profile" in all_text(command(redline, "profile set anything_goes", ADMIN))
    assert "is not a channel" in all_text(command(redline, "profile set standard general", ADMIN))
    assert redline.reviews._store.channel_profile(CHANNEL) is None


# --- App Home ----------------------------------------------------------------------------


def published_for(redline: Redline, user: str) -> dict[str, Any]:
    before = len(redline.slack.calls_to("views.publish"))
    assert redline.home_opened(user).status_code == 200
    assert redline.wait(lambda: len(redline.slack.calls_to("views.publish")) > before)
    params = redline.slack.calls_to("views.publish")[before].params
    assert params["user_id"] == user
    view = params["view"]
    return json.loads(view) if isinstance(view, str) else view


def test_app_home_policy_hard_limits_first_and_own_recent_decisions(redline: Redline) -> None:
    redline.ask(HARD_TEXT)
    redline.ask(REVIEW_TEXT, user=BOB)
    redline.settle()
    text = all_text({"blocks": published_for(redline, ALICE)["blocks"]})
    assert text.index("Never allowed") < text.index("Restricted (profile: standard)")
    assert text.index("Autonomous weapons") < text.index("Never allowed") + 400
    assert "Your recent requests" in text and "`refuse`" in text
    assert "`review`" not in text  # Bob's request is not Alice's business
    assert "Review queue" not in text and "Today" not in text


def test_app_home_for_admins_shows_the_queue_and_todays_figures(redline: Redline) -> None:
    redline.ask(REVIEW_TEXT)
    redline.wait_card(1)
    view = published_for(redline, ADMIN)
    text = all_text({"blocks": view["blocks"]})
    assert "Review queue (1)" in text and "Today" in text
    assert action_value(view, review_cards.APPROVE_ACTION) is not None
    assert len(view["blocks"]) <= 100
