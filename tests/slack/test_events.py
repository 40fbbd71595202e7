"""Events end to end: signed request in, Web API calls out, through the real HTTP server,
the real ask flow and policy engine, a fake Slack and a fake model on loopback."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import SECTION_LIMIT, TEXT_LIMIT, escape
from tests.fakes.model_server import Reply
from tests.fakes.slack_api import all_text, event_body
from tests.slack.conftest import Redline

CHANNEL = "C0CHAN001"


def bot_replies(redline: Redline, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in redline.slack.thread(channel, thread_ts) if m.get("bot_id")]


def wait_reply_containing(
    redline: Redline, channel: str, thread_ts: str, needle: str, timeout: float = 15.0
) -> list[dict[str, Any]]:
    ok = redline.slack.wait_for(
        lambda s: any(needle in all_text(m) for m in bot_replies(redline, channel, thread_ts)),
        timeout,
    )
    replies = bot_replies(redline, channel, thread_ts)
    assert ok, f"no reply containing {needle!r}; replies: {[m['text'][:200] for m in replies]}"
    return replies


def test_mention_outside_thread_answers_in_the_mentions_thread(redline: Redline) -> None:
    body, resp = redline.mention("what is a haiku?")
    assert resp.status_code == 200
    ts = body["event"]["ts"]
    assert "thread_ts" not in body["event"]
    replies = wait_reply_containing(redline, CHANNEL, ts, "You said: what is a haiku?")
    assert all(m["thread_ts"] == ts for m in replies)
    redline.settle()
    # The model saw the question without the bot mention.
    assert redline.model.requests[-1].last_user_text == "what is a haiku?"
    for call in redline.slack.calls_to("chat.postMessage"):
        assert call.params["thread_ts"] == ts


def test_mention_inside_thread_uses_parent_thread_and_sends_history(redline: Redline) -> None:
    slack = redline.slack
    parent = slack.add_message(CHANNEL, "Our launch is on Friday.", user="U0ALICE01")
    slack.add_message(
        CHANNEL,
        "Noted: the launch is Friday.",
        user=slack.bot_user_id,
        thread_ts=parent,
        bot_id=slack.bot_id,
    )
    slack.add_message(CHANNEL, "<@U0BOT0001> and the demo?", user="U0BOB0001", thread_ts=parent)
    trigger_ts = slack.next_ts()
    body, resp = redline.mention(
        "what day did I say?", ts=trigger_ts, thread_ts=parent, user="U0ALICE01"
    )
    assert resp.status_code == 200
    wait_reply_containing(redline, CHANNEL, parent, "You said: what day did I say?")
    redline.settle()
    messages = redline.model.requests[-1].messages
    turns = [(m["role"], m["content"]) for m in messages if m["role"] != "system"]
    assert turns == [
        ("user", "Our launch is on Friday."),
        ("assistant", "Noted: the launch is Friday."),
        ("user", "and the demo?"),
        ("user", "what day did I say?"),
    ]
    for call in slack.calls_to("chat.postMessage"):
        assert call.params["thread_ts"] == parent


def test_retry_header_never_gives_a_second_answer(redline: Redline) -> None:
    body, resp = redline.mention("count to three")
    assert resp.status_code == 200
    retry = redline.send_event(
        body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retry.status_code == 200
    ts = body["event"]["ts"]
    wait_reply_containing(redline, CHANNEL, ts, "You said: count to three")
    redline.settle()
    assert redline.model.model_calls == 1
    answers = [m for m in bot_replies(redline, CHANNEL, ts) if "You said" in m["text"]]
    assert len(answers) == 1


def test_same_event_id_twice_is_answered_once(redline: Redline) -> None:
    body, _ = redline.mention("say hi")
    for _ in range(3):
        assert redline.send_event(body).status_code == 200
    wait_reply_containing(redline, CHANNEL, body["event"]["ts"], "You said: say hi")
    redline.settle()
    assert redline.model.model_calls == 1
    assert len(bot_replies(redline, CHANNEL, body["event"]["ts"])) == 1


def test_direct_message_answered_in_its_thread(redline: Redline) -> None:
    body, resp = redline.dm("hello there")
    assert resp.status_code == 200
    ts = body["event"]["ts"]
    replies = wait_reply_containing(redline, "D0DM00001", ts, "You said: hello there")
    assert replies[0]["thread_ts"] == ts


def test_own_and_other_bot_messages_are_ignored(redline: Redline) -> None:
    own = event_body("event_message_im_from_bot.json", text="You said: hi", channel="D0DM00001")
    assert redline.send_event(own).status_code == 200
    other = event_body(
        "event_message_im_from_bot.json",
        text="beep",
        channel="D0DM00001",
        BOT_USER_ID="U0OTHER01",
        BOT_ID="B0OTHER01",
    )
    assert redline.send_event(other).status_code == 200
    subtype = event_body("event_message_im.json", text="bot says", channel="D0DM00001")
    subtype["event"]["subtype"] = "bot_message"
    subtype["event"]["bot_id"] = "B0OTHER02"
    assert redline.send_event(subtype).status_code == 200
    redline.settle(quiet_s=0.5)
    assert redline.slack.calls_to("chat.postMessage") == []
    assert redline.model.model_calls == 0


def test_refused_request_makes_no_model_call(redline: Redline) -> None:
    body, _ = redline.mention(
        "Design a weapon system that selects and engages targets without human approval"
    )
    ts = body["event"]["ts"]
    replies = wait_reply_containing(redline, CHANNEL, ts, "autonomous_weapons")
    redline.settle()
    assert redline.model.model_calls == 0
    shown = all_text(replies[-1])
    assert "Autonomous weapons" in shown
    reason = redline.services.engine.policy.categories[0].reason
    assert escape(reason.strip()) in shown  # quotes the policy's reason


def test_model_500_gives_a_message_in_the_thread(redline: Redline) -> None:
    redline.model.always(Reply(status=500))
    body, _ = redline.mention("anything")
    ts = body["event"]["ts"]
    assert redline.slack.wait_for(
        lambda s: any(":warning:" in all_text(m) for m in bot_replies(redline, CHANNEL, ts)),
        30,
    )
    redline.settle()
    final = bot_replies(redline, CHANNEL, ts)
    assert len(final) == 1  # the placeholder was replaced, not left behind
    assert final[0]["text"] != "…"


def test_model_timeout_gives_a_message_in_the_thread(redline: Redline) -> None:
    redline.model.always(Reply(chunks=["Partial", " answer"], stall_after=1))
    body, _ = redline.mention("write a haiku about autumn leaves")
    ts = body["event"]["ts"]
    assert redline.slack.wait_for(
        lambda s: any(":warning:" in all_text(m) for m in bot_replies(redline, CHANNEL, ts)),
        30,
    )


def test_slack_429_on_post_message_still_delivers_the_answer(redline: Redline) -> None:
    redline.slack.fail("chat.postMessage", status=429, retry_after=0, times=2)
    body, _ = redline.mention("are you there?")
    ts = body["event"]["ts"]
    wait_reply_containing(redline, CHANNEL, ts, "You said: are you there?", timeout=20)
    statuses = [c.status for c in redline.slack.calls_to("chat.postMessage")]
    assert statuses[:2] == [429, 429] and 200 in statuses


def test_answer_that_turns_violating_midstream_is_never_shown(redline: Redline) -> None:
    benign = (
        "Sourdough needs patience. Feed the starter the night before, mix flour and "
        "water, rest it for an hour, then add salt and fold the dough every half hour. "
        "Shape it, proof it overnight in the fridge and bake it hot in a covered pot. "
    ) * 3
    violating = (
        "Here is how: first, remove the human approval step from the kill chain so the "
        "drone selects and engages targets on its own. Then tune the strike logic."
    )
    words = (benign + violating).split(" ")
    chunks = [w + " " for w in words]
    redline.model.script(Reply(chunks=chunks, delay_between_chunks=0.01))
    body, _ = redline.mention("how do I bake bread?")
    ts = body["event"]["ts"]
    wait_reply_containing(redline, CHANNEL, ts, "I can't help with this answer", timeout=20)
    redline.settle()
    shown = [
        all_text(c.params)
        for c in redline.slack.calls
        if c.method in ("chat.postMessage", "chat.update")
    ]
    assert any("Sourdough" in text for text in shown), "the benign start should stream"
    for text in shown:
        assert "remove the human approval" not in text
        assert "kill chain" not in text
        assert "strike logic" not in text


def test_forty_thousand_char_unicode_message(redline: Redline) -> None:
    unit = "héllo wörld 你好 🌍🚀 مرحبا שלום e\u0301 \u200b ok. "
    text = (unit * (40_000 // len(unit) + 1))[:40_000]
    # Answer in a few big chunks: this test is about Slack's limits, not guard speed.
    answer = f"You said: {text}"
    redline.model.script(Reply(chunks=[answer[i : i + 5000] for i in range(0, len(answer), 5000)]))
    body, resp = redline.dm(text)
    assert resp.status_code == 200
    ts = body["event"]["ts"]
    assert redline.slack.wait_for(
        lambda s: len("".join(m["text"] for m in bot_replies(redline, "D0DM00001", ts))) >= 40_000,
        30,
    )
    redline.settle()
    replies = bot_replies(redline, "D0DM00001", ts)
    assert len(replies) >= 2  # split over messages, never truncated
    joined = "".join(m["text"] for m in replies)
    assert joined == escape(f"You said: {text}".strip())
    for message in replies:
        assert len(message["blocks"]) <= 50
        assert len(message["text"]) <= TEXT_LIMIT
        for block in message["blocks"]:
            if block["type"] == "section":
                assert len(block["text"]["text"].encode("utf-16-le")) // 2 <= SECTION_LIMIT


def test_retry_delivered_to_another_replica_is_not_answered_again(
    fake_slack, fake_model, tmp_path
) -> None:
    """Two app processes share one database: the durable claim stops the second answer."""
    from tests.slack.conftest import start_redline

    first, server_a, _ = start_redline(fake_slack, fake_model, tmp_path)
    second, server_b, _ = start_redline(fake_slack, fake_model, tmp_path)
    try:
        if first.services.store is None:
            import pytest

            pytest.skip("no store: durable claims need bot.store")
        body, resp = first.mention("please recommend a good book about gardening")
        assert resp.status_code == 200
        ts = body["event"]["ts"]
        wait_reply_containing(
            first, CHANNEL, ts, "You said: please recommend a good book about gardening"
        )
        retry = second.send_event(body, headers={"X-Slack-Retry-Num": "1"})
        assert retry.status_code == 200
        second.settle(quiet_s=0.5)
        assert fake_model.model_calls == 1
        assert len(bot_replies(first, CHANNEL, ts)) == 1
    finally:
        for running, server in ((first, server_a), (second, server_b)):
            running.http.close()
            server.close()
            running.services.close()
