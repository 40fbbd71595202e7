"""Timeouts: first byte, a stream that stops, a stream that trickles, a slow whole answer."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bot.model import ChatMessage, ModelError
from tests.fakes.model_server import FakeModelServer, Reply
from tests.model.conftest import FAST, MakeClient

ASK = [ChatMessage("user", "hello")]


def test_no_first_byte_times_out_without_retry(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.always(Reply(delay_first_byte=30))
    with pytest.raises(ModelError) as caught:
        list(make_client(provider).stream(ASK))
    assert caught.value.kind == "timeout"
    assert caught.value.user_message == "The model did not answer within 0.5 s; please try again."
    assert fake.model_calls == 1  # a slow model is not hit again


def test_whole_answer_that_never_comes_times_out(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.always(Reply(delay_first_byte=30))
    with pytest.raises(ModelError) as caught:
        make_client(provider).complete(ASK)
    assert caught.value.kind == "timeout"


def test_stall_mid_stream_times_out_after_the_text_so_far(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["one ", "two ", "three"], stall_after=2))
    seen: list[str] = []
    with pytest.raises(ModelError) as caught:
        seen.extend(make_client(provider).stream(ASK))
    assert seen == ["one ", "two "]
    assert caught.value.kind == "timeout"
    assert "stopped sending" in caught.value.user_message
    assert fake.model_calls == 1


def test_stall_before_any_text_times_out(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["never"], stall_after=0))  # headers sent, then silence
    with pytest.raises(ModelError) as caught:
        list(make_client(provider).stream(ASK))
    assert caught.value.kind == "timeout"
    assert fake.model_calls == 1


def test_slow_but_steady_stream_is_not_cut(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    # Each gap (0.3 s) is under LLM_TIMEOUT_S (0.5 s): the answer arrives whole.
    fake.script(Reply(chunks=["a", "b", "c"], delay_between_chunks=0.3))
    assert list(make_client(provider).stream(ASK)) == ["a", "b", "c"]


def test_trickling_stream_is_cut_at_the_stream_cap(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    limits = replace(FAST, stream_max_s=0.6)
    fake.script(Reply(chunks=[f"{i} " for i in range(100)], delay_between_chunks=0.1))
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        seen.extend(make_client(provider, limits=limits).stream(ASK))
    assert caught.value.kind == "timeout"
    assert "cut off" in caught.value.user_message
    assert 2 <= len(seen) < 100
    assert time.monotonic() - started <= limits.stream_max_s + limits.timeout_s


def test_timeout_while_retrying_quotes_the_whole_wait(
    fake: FakeModelServer, make_client: MakeClient
) -> None:
    limits = replace(FAST, timeout_s=0.5, budget_s=3.0)
    fake.script(Reply(status=429, headers={"Retry-After": "1.2"}), Reply(delay_first_byte=30))
    with pytest.raises(ModelError) as caught:
        make_client("openai", limits=limits).complete(ASK)
    assert caught.value.kind == "timeout"
    assert fake.model_calls == 2
    # 1.2 s of Retry-After + 0.5 s of silence: the user is told about the whole wait.
    assert "within 2 s" in caught.value.user_message
