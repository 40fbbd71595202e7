"""The Slack ReplySink against the fake Slack: throttled streaming, retraction, limits,
rate limits. A controllable clock makes the throttle deterministic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.app import build_client
from bot.slack.reply import SlackReplySink
from bot.types import Verdict
from tests.fakes.slack_api import FakeSlack, all_text

REFUSAL = Verdict(
    decision="refuse",
    category="cbrn_weapons",
    score=1.0,
    stage="rules",
    reason="Never chemical weapons.",
    policy_version="v1",
    profile="standard",
    kind="response",
    hard_limit=True,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def make_sink(slack: FakeSlack, clock: Clock, **kw: object) -> SlackReplySink:
    client = build_client(slack.settings())
    return SlackReplySink(client, "C1", "1700000000.000001", clock=clock, **kw)  # type: ignore[arg-type]


def test_first_text_at_once_then_at_most_one_update_per_second(slack: FakeSlack) -> None:
    clock = Clock()
    sink = make_sink(slack, clock)
    sink.thinking()
    assert [c.params["text"] for c in slack.calls_to("chat.postMessage")] == ["…"]
    sink.stream_update("Hello")  # first visible text: immediately
    for i in range(9):  # 0.9 s of chunks: all throttled
        clock.now += 0.1
        sink.stream_update("Hello" + " more" * (i + 1))
    assert len(slack.calls_to("chat.update")) == 1
    clock.now += 0.15
    sink.stream_update("Hello and the rest")
    assert len(slack.calls_to("chat.update")) == 2
    sink.finished("Hello and the rest. Done.")
    updates = slack.calls_to("chat.update")
    assert len(updates) == 3 and "Done." in all_text(updates[-1].params)
    assert len(slack.calls_to("chat.postMessage")) == 1  # one message, edited in place
    assert all(c.params["ts"] == slack.calls_to("chat.update")[0].params["ts"] for c in updates)


def test_rate_limited_frame_is_skipped_and_final_still_delivered(slack: FakeSlack) -> None:
    clock = Clock()
    sink = make_sink(slack, clock)
    sink.stream_update("First")  # posts
    slack.fail("chat.update", status=429, retry_after=5)
    clock.now += 1.5
    sink.stream_update("First second")  # 429: skipped, back off 5 s
    clock.now += 1.5
    sink.stream_update("First second third")  # inside the back-off: not even tried
    assert [c.status for c in slack.calls_to("chat.update")] == [429]
    sink.finished("First second third fourth")
    assert slack.calls_to("chat.update")[-1].status == 200
    ts = slack.calls_to("chat.update")[-1].params["ts"]
    assert "fourth" in slack.message("C1", ts)["text"]


def test_final_answer_survives_429_on_post(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=0, times=2)
    sink = make_sink(slack, Clock())
    sink.finished("the answer")
    statuses = [c.status for c in slack.calls_to("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert slack.bot_messages()[0]["text"] == "the answer"


def test_retract_replaces_shown_text_and_nothing_follows(slack: FakeSlack) -> None:
    clock = Clock()
    sink = make_sink(slack, clock)
    sink.stream_update("Safe start of the answer")
    sink.stream_retract(REFUSAL)
    clock.now += 5
    sink.stream_update("Safe start of the answer and more")
    sink.finished("Safe start of the answer and more")
    (message,) = slack.bot_messages()
    assert "cbrn_weapons" in message["text"]
    assert "Safe start" not in all_text(message)
    assert len(slack.calls_to("chat.update")) == 1


def test_failure_replaces_placeholder_and_hides_secrets(slack: FakeSlack) -> None:
    sink = make_sink(slack, Clock(), secrets=("sk-secret-key-123",))
    sink.thinking()
    sink.failed("The model said: bad key sk-secret-key-123")
    (message,) = slack.bot_messages()
    assert "sk-secret-key-123" not in all_text(message)
    assert ":warning:" in message["text"]


def test_agent_view_uses_status_not_placeholder(slack: FakeSlack) -> None:
    sink = make_sink(slack, Clock(), assistant=True)
    sink.thinking()
    assert slack.calls_to("chat.postMessage") == []
    assert slack.calls_to("assistant.threads.setStatus")[0].params["status"] == "is thinking…"
    sink.finished("done")
    assert slack.calls_to("chat.postMessage")[0].params["thread_ts"] == "1700000000.000001"


def test_long_answer_becomes_several_messages_in_the_thread(slack: FakeSlack) -> None:
    sink = make_sink(slack, Clock())
    sink.thinking()
    text = ("word " * 20_000).strip()  # 100k chars
    sink.finished(text)
    messages = slack.bot_messages()
    assert len(messages) >= 3
    assert "".join(m["text"] for m in messages) == text
    assert all(m.get("thread_ts") == "1700000000.000001" for m in messages)


def test_client_retries_are_bounded(slack: FakeSlack) -> None:
    client = build_client(slack.settings())
    assert isinstance(client, WebClient)
    handlers = {type(h).__name__: h for h in client.retry_handlers}
    assert isinstance(handlers["RateLimitErrorRetryHandler"], RateLimitErrorRetryHandler)
    assert all(h.max_retry_count <= 3 for h in client.retry_handlers)
    assert client.base_url == slack.base_url
