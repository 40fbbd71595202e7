"""Fixtures: one observed Redline node on a SQLite file, with a fake Slack and a fake
model, shared by the hostile tests (starting one costs ~1 s). Each test starts from a
clean fake Slack and fake model; audit assertions compare with `audit_before`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, event_body
from tests.faults.harness import Node, final_bot_text, node_settings, settle, start_node

ADMIN = "U0ADMIN01"
USER = "U0USER001"  # the fakes' default user: not an admin
REVIEW_CHANNEL = "C0REVIEW1"
DONE_MARKS = (":no_entry:", ":warning:", ":hourglass:", "You said", "I can't help")


@dataclass
class Hostile:
    node: Node
    slack: FakeSlack
    model: FakeModelServer
    audit_before: int

    def audit_count(self) -> int:
        assert self.node.services.store is not None
        return self.node.services.store.count_audit()

    def mention(self, text: str, **kw: Any) -> tuple[dict[str, Any], str]:
        """@-mention the bot; wait for its final reply in the thread; (body, reply text)."""
        body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}", **kw)
        resp = self.node.send_event(body)
        assert resp.status_code == 200, resp.text
        event = body["event"]
        reply = final_bot_text(self.slack, event["channel"], event["ts"], DONE_MARKS)
        settle(self.slack, quiet_s=0.2, timeout=5)
        return body, reply

    def nothing_happened(self) -> None:
        """No Slack post, no model call, no audit record since the test started."""
        settle(self.slack, quiet_s=0.2, timeout=3)
        assert self.slack.calls_to("chat.postMessage") == []
        assert self.slack.calls_to("chat.update") == []
        assert self.model.model_calls == 0
        assert self.audit_count() == self.audit_before


@pytest.fixture(scope="session")
def shared_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture(scope="session")
def shared_model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="session")
def shared_node(
    shared_slack: FakeSlack, shared_model: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    db = tmp_path_factory.mktemp("hostile") / "redline.db"
    settings = node_settings(
        shared_slack, shared_model, f"sqlite:///{db}",
        admins=(ADMIN,), review_channel=REVIEW_CHANNEL,
    )
    running = start_node(settings)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def h(
    shared_node: Node, shared_slack: FakeSlack, shared_model: FakeModelServer
) -> Iterator[Hostile]:
    settle(shared_slack, quiet_s=0.1, timeout=5)
    shared_slack.clear()
    shared_model.clear()
    shared_model.always(None)
    shared_model.responder = None
    state = Hostile(shared_node, shared_slack, shared_model, 0)
    state.audit_before = state.audit_count()
    yield state
