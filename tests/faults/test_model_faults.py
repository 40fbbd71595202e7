"""The model API down, slow, stalling, rate limiting or talking garbage: the user gets a
clear message in the thread within LLM_TIMEOUT_S + 2 s, and the next question is
answered normally (no restart).

The elapsed-time checks are generous bounds on a requirement (timeout + 2 s), measured
from sending the event to the fake Slack receiving the final message.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.fakes.model_server import FakeModelServer, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, all_text, event_body
from tests.faults.conftest import NodeFactory
from tests.faults.harness import Node, final_bot_text, node_settings, settle, start_node

TIMEOUT_S = 1.5
DONE = (":warning:", "You said", ":no_entry:")


def _ask(node: Node, slack: FakeSlack, text: str) -> tuple[str, float]:
    """Mention the bot; (final reply text, seconds from the event to that reply)."""
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}")
    sent = time.perf_counter()
    assert node.send_event(body).status_code == 200
    event = body["event"]
    # wait a little past the requirement (timeout + 2 s), so a miss fails with a figure
    reply = final_bot_text(slack, event["channel"], event["ts"], DONE, timeout=TIMEOUT_S + 6)
    final_at = max(
        (c.at for c in slack.calls
         if c.method in ("chat.postMessage", "chat.update") and any(
             d in all_text(c.params) for d in DONE)),
        default=float("inf"),
    )
    return reply, final_at - sent


FAULTS = {
    "slow_first_byte": Reply(delay_first_byte=TIMEOUT_S + 5),
    "stalls_mid_stream": Reply(chunks=["The answer ", "is ", "coming "], stall_after=2),
    "drops_connection": Reply(chunks=["The answer ", "is "], close_after=1),
    "server_error": Reply(status=500),
    "overloaded": Reply(status=503, headers={"Retry-After": "4"}),
    "rate_limited_long": Reply(status=429, headers={"Retry-After": "120"}),
    "garbage_body": Reply(body=b"\x00\xff garbage, not JSON \xfe"),
    "html_error_page": Reply(status=200, body="<html><body>Bad gateway</body></html>",
                             headers={"Content-Type": "text/html"}),
    "garbage_sse": Reply(sse="data: {not json\n\ndata: [DONE]\n\n"),
    "provider_error_event": Reply(chunks=["Partial "], error_event="overloaded_error"),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, FakeSlack,
                                                                       FakeModelServer]]:
    """One node for the scripted faults (they differ only in what the fake model does)."""
    with FakeSlack() as slack, FakeModelServer() as model:
        db = tmp_path_factory.mktemp("model-faults") / "redline.db"
        node = start_node(node_settings(slack, model, f"sqlite:///{db}",
                                        llm_timeout_s=TIMEOUT_S))
        try:
            yield node, slack, model
        finally:
            settle(slack, quiet_s=0.1, timeout=5)
            node.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_model_fault_gives_a_clear_message_in_time_then_recovers(
    shared: tuple[Node, FakeSlack, FakeModelServer], fault: str
) -> None:
    node, fake_slack, fake_model = shared
    settle(fake_slack, quiet_s=0.1, timeout=10)
    fake_slack.clear()
    fake_model.clear()
    fake_model.always(FAULTS[fault])
    reply, elapsed = _ask(node, fake_slack, "Summarise the plot of Hamlet")
    assert ":warning:" in reply, reply
    assert "You said" not in reply
    assert fake_model.model_calls >= 1
    assert elapsed < TIMEOUT_S + 2, f"{fault}: message after {elapsed:.1f}s"
    # recovery: the same process answers the next question
    fake_model.always(None)
    reply, _ = _ask(node, fake_slack, "And Macbeth?")
    assert "You said: And Macbeth?" in reply


def test_model_api_down_gives_a_clear_message_in_time(
    make_node: NodeFactory, fake_slack: FakeSlack
) -> None:
    with socket.socket() as sock:  # a port with nothing listening on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    node = make_node(llm_timeout_s=TIMEOUT_S, llm_base_url=f"http://127.0.0.1:{port}/v1")
    reply, elapsed = _ask(node, fake_slack, "Summarise the plot of Hamlet")
    assert ":warning:" in reply, reply
    assert elapsed < TIMEOUT_S + 2, f"message after {elapsed:.1f}s"
    health = node.get("/healthz").json()
    assert health["model"]["ok"] is False and health["ok"] is False
    assert health["database"]["ok"] is True


def test_model_failures_are_counted_in_metrics(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer
) -> None:
    node = make_node(llm_timeout_s=TIMEOUT_S)
    fake_model.always(Reply(delay_first_byte=TIMEOUT_S + 5))
    _ask(node, fake_slack, "Summarise the plot of Hamlet")
    fake_model.always(None)
    _ask(node, fake_slack, "And Macbeth?")
    text = node.get("/metrics").text
    assert 'redline_model_errors_total{kind="timeout"} 1' in text, text
    assert "redline_model_latency_seconds_count 1" in text


class _BrokenEngine:
    """The real engine's policy, but `decide` raises: the flow must fail closed."""

    def __init__(self, real: object) -> None:
        self.policy = real.policy  # type: ignore[attr-defined]

    def decide(self, *_: object, **__: object) -> object:
        raise RuntimeError("classifier weights unreadable")

    def profile_for_channel(self, channel: str) -> str:
        return "standard"


def test_policy_engine_that_cannot_decide_never_reaches_the_model(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer
) -> None:
    from bot.ask import AskFlow
    from bot.ratelimit import RateLimitedAsk

    node = make_node(llm_timeout_s=TIMEOUT_S)
    services = node.services
    ask = services.ask
    assert isinstance(ask, RateLimitedAsk)
    broken = AskFlow(services.settings, _BrokenEngine(services.engine), services.chat,
                     audit=services.store)
    services.ask = RateLimitedAsk(broken, ask.limits)  # type: ignore[assignment]
    reply, _ = _ask(node, fake_slack, "What is the capital of France?")
    assert ":warning:" in reply and "not sent to the model" in reply, reply
    assert fake_model.model_calls == 0
