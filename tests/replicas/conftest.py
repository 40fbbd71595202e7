"""Two replicas (two nodes, two loopback ports) on one PostgreSQL schema, sharing a fake
Slack and a fake model, as N replicas behind a load balancer share the real ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack
from tests.faults.harness import Node, node_settings, settle, start_node
from tests.pg_schema import PgSchema

ADMINS = ("U0ADMIN01", "U0ADMIN02")
REVIEW_CHANNEL = "C0REVIEW1"


@dataclass
class Pair:
    a: Node
    b: Node
    slack: FakeSlack
    model: FakeModelServer
    schema: PgSchema

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.a, self.b)


@pytest.fixture
def make_pair() -> Iterator[Callable[..., Pair]]:
    made: list[tuple[Pair, FakeSlack, FakeModelServer]] = []

    def make(**overrides: Any) -> Pair:
        slack = FakeSlack().start()
        model = FakeModelServer().start()
        schema = PgSchema()
        values: dict[str, Any] = {"admins": ADMINS, "review_channel": REVIEW_CHANNEL}
        values.update(overrides)
        settings = node_settings(slack, model, schema.url, **values)
        pair = Pair(start_node(settings), start_node(settings), slack, model, schema)
        made.append((pair, slack, model))
        return pair

    yield make
    for pair, slack, model in made:
        settle(slack, quiet_s=0.2, timeout=5)
        pair.a.close()
        pair.b.close()
        slack.stop()
        model.stop()
        pair.schema.drop()
