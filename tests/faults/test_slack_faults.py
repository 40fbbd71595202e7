"""Slack answering 429 (with Retry-After) and 5xx on chat.postMessage / chat.update: the
answer is still delivered (the client's retry handlers), exactly once, and the errors
are counted in /metrics."""

from __future__ import annotations

import pytest

from bot.metrics import parse
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, event_body
from tests.faults.conftest import NodeFactory
from tests.faults.harness import final_bot_text, settle


def _mention(node, slack: FakeSlack, text: str) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}")
    assert node.send_event(body).status_code == 200
    event = body["event"]
    return event, final_bot_text(slack, event["channel"], event["ts"], ("You said",), timeout=10)


@pytest.mark.parametrize(
    ("method", "status", "times"),
    [
        ("chat.postMessage", 429, 1),
        ("chat.postMessage", 429, 3),
        ("chat.postMessage", 500, 1),
        ("chat.postMessage", 503, 2),
        ("chat.update", 429, 2),
        ("chat.update", 502, 2),
        ("chat.postMessage", 504, 1),
    ],
)
def test_answer_delivered_despite_slack_errors(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer,
    method: str, status: int, times: int,
) -> None:
    node = make_node()
    fake_slack.fail(method, status=status, times=times, retry_after=1 if status == 429 else None)
    event, reply = _mention(node, fake_slack, "What is a hash chain?")
    assert "You said: What is a hash chain?" in reply
    settle(fake_slack)
    answers = [m for m in fake_slack.bot_messages() if m.get("thread_ts") == event["ts"]]
    assert len(answers) == 1, answers  # retried, not duplicated
    assert fake_model.model_calls == 1
    failed = [c for c in fake_slack.calls_to(method) if c.status == status]
    assert len(failed) == times  # the fault really happened
    errors = {
        (s.labels["method"], s.labels["error"]): s.value
        for s in parse(node.get("/metrics").text)
        if s.name == "redline_slack_api_errors_total"
    }
    assert errors.get((method, str(status))) == times, errors


def test_slack_down_past_the_retries_loses_nothing_else(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer
) -> None:
    """Slack failing longer than the retries: that answer is lost (logged), the process
    keeps going, and the next event is answered."""
    node = make_node()
    # 6 = the placeholder and the failure notice, each tried 1 + 2 times
    fake_slack.fail("chat.postMessage", status=500, times=6)
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> What is a queue?")
    assert node.send_event(body).status_code == 200
    assert fake_slack.wait_for(
        lambda s: len([c for c in s.calls_to("chat.postMessage") if c.status == 500]) >= 6, 20
    )
    settle(fake_slack, quiet_s=0.3, timeout=20)
    fake_slack.clear()
    _, reply = _mention(node, fake_slack, "What is a stack?")
    assert "You said: What is a stack?" in reply
    assert node.get("/healthz").status_code == 200
