"""Retries: 429 / 5xx / connect errors with backoff and Retry-After, within the budget."""

from __future__ import annotations

import random
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.model import ChatMessage, ModelError, build_chat_client
from bot.model.retry import CallLimits, parse_retry_after
from bot.settings import Settings
from tests.fakes.model_server import FakeModelServer, Reply
from tests.model.conftest import FAST, MakeClient

ASK = [ChatMessage("user", "hello")]


def test_429_with_retry_after_then_success(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(status=429, headers={"Retry-After": "0.3"}))
    assert "".join(make_client(provider).stream(ASK)) == "You said: hello"
    first, second = fake.model_requests
    assert second.received_at - first.received_at >= 0.3  # the server's wait was honoured


def test_retry_after_ms_header(fake: FakeModelServer, make_client: MakeClient) -> None:
    fake.script(Reply(status=429, headers={"retry-after-ms": "250"}))
    assert make_client("openai").complete(ASK) == "You said: hello"
    first, second = fake.model_requests
    assert second.received_at - first.received_at >= 0.25


def test_5xx_then_success(fake: FakeModelServer, make_client: MakeClient, provider: str) -> None:
    fake.script(Reply(status=500), Reply(status=503), Reply(status=529))
    assert make_client(provider).complete(ASK) == "You said: hello"
    assert fake.model_calls == 4


def test_500_every_time_fails_after_max_attempts(
    fake: FakeModelServer, make_client: MakeClient, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.always(Reply(status=500))
    with pytest.raises(ModelError) as caught:
        list(make_client(provider).stream(ASK))
    assert caught.value.kind == "server"
    assert "500" in caught.value.user_message
    assert fake.model_calls == FAST.max_attempts
    assert "retry 1/3" in caplog.text and "gave up after 4 attempt(s)" in caplog.text


def test_failure_comes_within_the_budget(fake: FakeModelServer, make_client: MakeClient) -> None:
    # Slow 503s with long Retry-After: without the budget this would take 10 × (0.3 + 0.4) s.
    limits = replace(FAST, budget_s=1.5, max_attempts=10)
    fake.always(Reply(status=503, headers={"Retry-After": "0.4"}, delay_first_byte=0.3))
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        make_client("openai", limits=limits).complete(ASK)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "server"
    # The deadline is the behaviour under test; the margin only absorbs scheduling noise.
    assert elapsed <= limits.budget_s + 0.25
    assert 2 <= fake.model_calls < limits.max_attempts


def test_retry_after_beyond_the_budget_gives_up_at_once(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.always(Reply(status=429, headers={"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        make_client(provider).complete(ASK)
    assert caught.value.kind == "rate_limited"
    assert fake.model_calls == 1  # no point sleeping past the budget
    assert time.monotonic() - started < FAST.budget_s


def test_client_errors_are_not_retried(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(status=400))
    with pytest.raises(ModelError) as caught:
        make_client(provider).complete(ASK)
    assert caught.value.kind == "server" and "400" in caught.value.user_message
    fake.script(Reply(status=401))
    with pytest.raises(ModelError) as caught:
        make_client(provider).complete(ASK)
    assert caught.value.kind == "unavailable" and "LLM_API_KEY" in caught.value.user_message
    assert fake.model_calls == 2


def test_overload_event_before_any_text_is_retried(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=[], error_event="overloaded_error"))
    assert "".join(make_client(provider).stream(ASK)) == "You said: hello"
    assert fake.model_calls == 2


def test_no_retry_once_text_was_yielded(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["partial ", "answer"], error_event="overloaded_error"))
    seen: list[str] = []
    with pytest.raises(ModelError) as caught:
        seen.extend(make_client(provider).stream(ASK))
    assert seen == ["partial ", "answer"]
    assert caught.value.kind == "server"
    assert fake.model_calls == 1


def test_connection_dropped_mid_stream_is_not_retried(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["one ", "two ", "three"], close_after=1))
    seen: list[str] = []
    with pytest.raises(ModelError) as caught:
        seen.extend(make_client(provider).stream(ASK))
    assert seen == ["one "]
    assert caught.value.kind == "server"
    assert "broke" in caught.value.user_message
    assert fake.model_calls == 1


def test_connection_dropped_before_text_is_retried(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["one ", "two"], close_after=0))
    assert list(make_client(provider).stream(ASK)) == ["You said: hello"]
    assert fake.model_calls == 2


def test_connection_refused_is_unavailable(provider: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with FakeModelServer() as fake:
        settings = fake.settings(provider, llm_base_url=f"http://127.0.0.1:{port}/v1")
    client = build_chat_client(settings, limits=FAST)
    assert client is not None
    with pytest.raises(ModelError) as caught:
        client.complete(ASK)
    assert caught.value.kind == "unavailable"
    assert "could not be reached" in caught.value.user_message


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": when}, now=now) == pytest.approx(30)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0.0
    for bad in ("", "soon", "-3", "nan", "inf"):
        assert parse_retry_after({"Retry-After": bad}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_and_stays_bounded() -> None:
    limits = CallLimits(backoff_base_s=0.5, backoff_max_s=8.0)
    rng = random.Random(1)
    waits = [limits.backoff(n, rng) for n in range(1, 8)]
    assert 0.25 <= waits[0] <= 0.5
    assert 0.5 <= waits[1] <= 1.0
    assert all(4.0 <= w <= 8.0 for w in waits[4:])


def test_limits_from_settings() -> None:
    limits = CallLimits.from_settings(Settings(llm_timeout_s=30))
    assert limits.timeout_s == 30
    assert limits.budget_s <= 60 - 1  # the user hears back within 60 s
    assert (limits.backoff_base_s, limits.backoff_max_s) == (0.5, 8.0)
    quick = CallLimits.from_settings(Settings(llm_timeout_s=0.5))
    assert quick.backoff_base_s == 0.05 and quick.backoff_max_s == 0.5
