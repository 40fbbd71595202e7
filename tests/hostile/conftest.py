"""Fixtures: one observed Redline node on a SQLite file, with a fake Slack and a fake
model, shared by the hostile tests (starting one costs ~1 s). Each test starts from a
clean fake Slack and fake model; audit assertions compare with `audit_before`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack
from tests.faults.harness import Node, node_settings, settle, start_node


@dataclass
class Hostile:
    node: Node
    slack: FakeSlack
    model: FakeModelServer
    audit_before: int

    def audit_count(self) -> int:
        assert self.node.services.store is not None
        return self.node.services.store.count_audit()

    def nothing_happened(self) -> None:
        """No Slack post, no model call, no audit record since the test started."""
        settle(self.slack, quiet_s=0.25, timeout=3)
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
    running = start_node(node_settings(shared_slack, shared_model, f"sqlite:///{db}"))
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
    settle(shared_slack, quiet_s=0.1, timeout=5)
