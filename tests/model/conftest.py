"""Fixtures: a fake model server per test and clients with small, test-sized limits."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.model import AnthropicChatClient, CallLimits, OpenAIChatClient
from bot.model.http_client import HttpChatClient
from tests.fakes.model_server import FakeModelServer

# Small numbers so failure paths take a fraction of a second; the production defaults are
# covered by test_limits_from_settings.
FAST = CallLimits(
    timeout_s=0.5,
    budget_s=3.0,
    stream_max_s=2.0,
    max_attempts=4,
    backoff_base_s=0.02,
    backoff_max_s=0.1,
)
PROVIDERS = ("openai", "anthropic")
KEY = "sk-test-SECRET-abcdef123456"

MakeClient = Callable[..., HttpChatClient]


@pytest.fixture
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(fake: FakeModelServer) -> Iterator[MakeClient]:
    """make_client(provider, limits=FAST, **settings overrides) -> a real client on the fake."""
    made: list[HttpChatClient] = []

    def make(provider: str, limits: CallLimits = FAST, **overrides: Any) -> HttpChatClient:
        overrides.setdefault("llm_api_key", KEY)
        settings = fake.settings(provider, llm_timeout_s=limits.timeout_s, **overrides)
        cls = OpenAIChatClient if provider == "openai" else AnthropicChatClient
        client = cls(settings, limits=limits, rng=random.Random(7))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
