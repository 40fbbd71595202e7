"""Fixtures for the fault tests: fresh fakes per test, and a factory for nodes with
custom settings (closed at the end of the test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack
from tests.faults.harness import Node, node_settings, settle, start_node
from tests.pg_schema import PgSchema


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def fake_model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture
def pg_schema() -> Iterator[PgSchema]:
    schema = PgSchema()
    try:
        yield schema
    finally:
        schema.drop()


NodeFactory = Callable[..., Node]


@pytest.fixture
def make_node(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> Iterator[NodeFactory]:
    nodes: list[Node] = []

    def make(database_url: str | None = None, **overrides: Any) -> Node:
        url = database_url or f"sqlite:///{tmp_path / f'redline{len(nodes)}.db'}"
        node = start_node(node_settings(fake_slack, fake_model, url, **overrides))
        nodes.append(node)
        return node

    yield make
    settle(fake_slack, quiet_s=0.1, timeout=5)
    for node in nodes:
        node.close()
