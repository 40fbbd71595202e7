"""Slash commands, the agent view and App Home, through the real HTTP path."""

from __future__ import annotations

import json
import time

from tests.fakes.slack_api import all_text, event_body
from tests.slack.conftest import Redline

CHANNEL = "C0CHAN001"


def test_ask_posts_the_question_then_answers_in_its_thread(redline: Redline) -> None:
    resp = redline.slash("/ask", "what is 2+2?", user="U0ALICE01")
    assert resp.status_code == 200
    assert redline.slack.wait_for(
        lambda s: any("You said: what is 2+2?" in m["text"] for m in s.bot_messages()), 15
    )
    redline.settle()
    posts = redline.slack.calls_to("chat.postMessage")
    question = posts[0].params
    assert "thread_ts" not in question or not question["thread_ts"]
    assert question["text"].startswith("<@U0ALICE01> asked:")
    assert "what is 2+2?" in question["text"]
    question_ts = next(
        m["ts"] for m in redline.slack.bot_messages() if m["text"].startswith("<@U0ALICE01>")
    )
    for call in posts[1:]:
        assert call.params["thread_ts"] == question_ts
    answers = [m for m in redline.slack.thread(CHANNEL, question_ts) if m["ts"] != question_ts]
    assert any("You said: what is 2+2?" in m["text"] for m in answers)


def test_ask_with_no_text_answers_usage_privately(redline: Redline) -> None:
    resp = redline.slash("/ask", "   ")
    assert resp.status_code == 200
    assert "Usage" in resp.text and "/ask" in resp.text
    assert json.loads(resp.text).get("response_type", "ephemeral") == "ephemeral"
    redline.settle()
    assert redline.slack.calls_to("chat.postMessage") == []


def test_ask_in_a_channel_the_bot_cannot_post_to_explains_privately(redline: Redline) -> None:
    redline.slack.fail("chat.postMessage", error="not_in_channel")
    redline.slash("/ask", "hello?")
    assert redline.slack.wait_for(lambda s: bool(s.calls_to("response_url")), 10)
    reply = redline.slack.calls_to("response_url")[0].params
    assert "Invite me" in reply["text"]
    assert redline.model.model_calls == 0


def test_redline_check_is_private_and_never_calls_the_model(redline: Redline) -> None:
    resp = redline.slash("/redline", "check synthesize sarin nerve agent from precursors at home")
    assert resp.status_code == 200
    assert redline.slack.wait_for(lambda s: bool(s.calls_to("response_url")), 10)
    redline.settle()
    reply = redline.slack.calls_to("response_url")[0].params
    assert reply["response_type"] == "ephemeral"
    text = all_text(reply)
    assert "`refuse`" in text and "cbrn_weapons" in text
    assert "Reason" in text
    assert redline.model.model_calls == 0
    assert redline.slack.calls_to("chat.postMessage") == []


def test_redline_check_allowed_text(redline: Redline) -> None:
    redline.slash("/redline", "check what is the capital of France?")
    assert redline.slack.wait_for(lambda s: bool(s.calls_to("response_url")), 10)
    assert "`allow`" in all_text(redline.slack.calls_to("response_url")[0].params)
    assert redline.model.model_calls == 0


def test_redline_policy_lists_hard_limits_first(redline: Redline) -> None:
    resp = redline.slash("/redline", "policy")
    assert resp.status_code == 200
    text = all_text(json.loads(resp.text))
    hard = text.index("Hard limits")
    restricted = text.index("Restricted")
    assert hard < restricted
    for cid in ("autonomous_weapons", "mass_domestic_surveillance", "cbrn_weapons"):
        assert hard < text.index(cid) < restricted
    assert restricted < text.index("offensive_cyber")


def test_redline_profile_shows_the_channels_profile(redline: Redline) -> None:
    resp = redline.slash("/redline", "profile")
    assert "`standard`" in all_text(json.loads(resp.text))


def test_redline_help_and_unknown_subcommand(redline: Redline) -> None:
    for text in ("help", "", "frobnicate now"):
        resp = redline.slash("/redline", text)
        assert resp.status_code == 200
        assert "/redline check" in all_text(json.loads(resp.text))


def test_agent_view_thread_started_sets_suggested_prompts(redline: Redline) -> None:
    thread_ts = redline.slack.next_ts()
    body = event_body("event_message_im.json", text="", channel="D0DM00001")
    body["event"] = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": "U0ALICE01",
            "context": {"channel_id": CHANNEL, "team_id": "T0FAKE001"},
            "channel_id": "D0DM00001",
            "thread_ts": thread_ts,
        },
        "event_ts": thread_ts,
    }
    assert redline.send_event(body).status_code == 200
    assert redline.slack.wait_for(
        lambda s: bool(s.calls_to("assistant.threads.setSuggestedPrompts")), 10
    )
    call = redline.slack.calls_to("assistant.threads.setSuggestedPrompts")[0].params
    assert call["thread_ts"] == thread_ts and len(call["prompts"]) >= 1


def test_agent_view_user_message_sets_status_title_and_answers(redline: Redline) -> None:
    thread_ts = redline.slack.add_message(
        "D0DM00001",
        "Hi! Ask me anything.",
        user=redline.slack.bot_user_id,
        bot_id=redline.slack.bot_id,
    )
    body, resp = redline.dm(
        "summarise our launch plan", thread_ts=thread_ts, ts=redline.slack.next_ts()
    )
    assert resp.status_code == 200
    assert redline.slack.wait_for(
        lambda s: any(
            "You said: summarise our launch plan" in m["text"]
            for m in s.thread("D0DM00001", thread_ts)
        ),
        15,
    )
    redline.settle()
    status = redline.slack.calls_to("assistant.threads.setStatus")
    assert status and status[0].params["thread_ts"] == thread_ts
    titles = redline.slack.calls_to("assistant.threads.setTitle")
    assert titles and titles[0].params["title"] == "summarise our launch plan"
    first_post = redline.slack.calls_to("chat.postMessage")[0].params
    assert first_post["thread_ts"] == thread_ts
    assert first_post["text"] != "…"  # the status replaces the placeholder here


def test_app_home_opened_publishes_the_home_view(redline: Redline) -> None:
    body = event_body("event_message_im.json", text="", channel="D0DM00001")
    body["event"] = {
        "type": "app_home_opened",
        "user": "U0ALICE01",
        "channel": "D0DM00001",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    assert redline.send_event(body).status_code == 200
    assert redline.slack.wait_for(lambda s: bool(s.calls_to("views.publish")), 10)
    call = redline.slack.calls_to("views.publish")[0].params
    assert call["user_id"] == "U0ALICE01" and call["view"]["type"] == "home"


def test_block_action_without_a_handler_does_not_crash(redline: Redline) -> None:
    """Interactivity shares the path; an unknown action gets a 4xx, not a 5xx."""
    from urllib.parse import urlencode

    from tests.fakes.slack_api import fill, load_template

    payload = fill(
        load_template("block_actions.json"),
        {
            "USER_ID": "U0ALICE01",
            "USER_NAME": "alice",
            "TEAM_ID": "T0FAKE001",
            "API_APP_ID": "A0APP0001",
            "VERIFICATION_TOKEN": "x",
            "MESSAGE_TS": "1.000001",
            "CHANNEL_ID": CHANNEL,
            "TRIGGER_ID": "t",
            "TEAM_DOMAIN": "fake",
            "CHANNEL_NAME": "general",
            "BOT_USER_ID": "U0BOT0001",
            "BOT_ID": "B0BOT0001",
            "MESSAGE_TEXT": "hi",
            "MESSAGE_BLOCKS": [],
            "RESPONSE_URL": redline.slack.response_url(),
            "ACTION_ID": "nothing_here",
            "BLOCK_ID": "b",
            "ACTION_TEXT": "Go",
            "ACTION_VALUE": "v",
            "ACTION_TS": "1.1",
        },
    )
    resp = redline.post(
        urlencode({"payload": json.dumps(payload)}),
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code < 500
