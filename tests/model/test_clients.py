"""Both providers against the fake server: requests on the wire, streamed and whole answers."""

from __future__ import annotations

import threading

import pytest

from bot.model import ChatClient, ChatMessage, build_chat_client
from bot.settings import Settings
from tests.fakes.model_server import FakeModelServer, Reply, default_chunks
from tests.model.conftest import KEY, MakeClient

ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "what is a haiku?")]


def test_stream_yields_the_chunks_in_order(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    client = make_client(provider)
    chunks = list(client.stream(ASK))
    assert chunks == default_chunks("You said: what is a haiku?")
    assert len(chunks) > 1
    request = fake.requests[-1]
    assert request.stream is True
    assert request.provider == provider


def test_complete_returns_the_whole_answer(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    assert make_client(provider).complete(ASK) == "You said: what is a haiku?"
    assert fake.requests[-1].stream is False


def test_openai_request_on_the_wire(fake: FakeModelServer, make_client: MakeClient) -> None:
    make_client("openai", llm_max_tokens=77).complete(ASK)
    request = fake.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "fake-model"
    assert request.json["max_tokens"] == 77
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "what is a haiku?"},
    ]


def test_openai_without_key_sends_no_authorization(
    fake: FakeModelServer, make_client: MakeClient
) -> None:
    make_client("openai", llm_api_key="").complete(ASK)
    assert "authorization" not in fake.requests[-1].headers


def test_anthropic_request_on_the_wire(fake: FakeModelServer, make_client: MakeClient) -> None:
    history = [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "first"),
        ChatMessage("user", "second"),  # same-role neighbours are merged
        ChatMessage("assistant", ""),  # empty text is rejected by the API: dropped
        ChatMessage("assistant", "an answer"),
        ChatMessage("user", "follow-up"),
    ]
    make_client("anthropic", llm_max_tokens=55).complete(history)
    request = fake.requests[-1]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.json["system"] == "Be brief."
    assert request.json["max_tokens"] == 55
    assert request.messages == [
        {"role": "user", "content": "first\n\nsecond"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "follow-up"},
    ]


@pytest.mark.parametrize("base", ["root", "v1"])
def test_anthropic_accepts_both_base_url_styles(
    fake: FakeModelServer, make_client: MakeClient, base: str
) -> None:
    url = fake.anthropic_base_url if base == "root" else fake.base_url
    assert make_client("anthropic", llm_base_url=url).complete(ASK).startswith("You said")
    assert fake.requests[-1].path == "/v1/messages"


def test_settings_system_prompt_only_when_caller_gives_none(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    client = make_client(provider, llm_system_prompt="House rules.")
    client.complete([ChatMessage("user", "hi")])
    assert fake.requests[-1].system == "House rules."
    client.complete(ASK)  # the ask flow already sends one: never sent twice
    assert fake.requests[-1].system == "Be brief."


def test_llm_stream_false_makes_one_whole_request(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    chunks = list(make_client(provider, llm_stream=False).stream(ASK))
    assert chunks == ["You said: what is a haiku?"]
    assert fake.requests[-1].stream is False


def test_server_that_ignores_stream_and_answers_json(
    fake: FakeModelServer, make_client: MakeClient
) -> None:
    body = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}}]}'
    fake.script(Reply(body=body))
    assert list(make_client("openai").stream(ASK)) == ["whole"]


def test_scripted_chunks_and_empty_answer(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(chunks=["a", "", "b"]), Reply(chunks=[]))
    client = make_client(provider)
    assert list(client.stream(ASK)) == ["a", "b"]  # empty deltas are not yielded
    assert list(client.stream(ASK)) == []


def test_closing_the_stream_early_leaves_the_client_usable(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    client = make_client(provider)
    fake.script(Reply(chunks=["one ", "two ", "three"], delay_between_chunks=0.05))
    stream = client.stream(ASK)
    assert next(stream) == "one "
    stream.close()  # what the ask flow does when the output guard trips
    assert client.complete(ASK).startswith("You said")


def test_concurrent_calls_from_threads(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    client = make_client(provider)
    results: dict[int, str] = {}

    def ask(i: int) -> None:
        results[i] = "".join(client.stream([ChatMessage("user", f"question {i}")]))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: f"You said: question {i}" for i in range(8)}


def test_messages_need_a_user_turn(make_client: MakeClient, provider: str) -> None:
    with pytest.raises(ValueError):
        make_client(provider).complete([ChatMessage("system", "only rules")])
    with pytest.raises(ValueError):
        ChatMessage("tool", "x")  # type: ignore[arg-type]


def test_build_chat_client(fake: FakeModelServer) -> None:
    assert build_chat_client(Settings()) is None  # LLM_PROVIDER=none
    for provider in ("openai", "anthropic"):
        client = build_chat_client(fake.settings(provider))
        assert isinstance(client, ChatClient)
        assert client.model == "fake-model"
        assert client.complete([ChatMessage("user", "x")]) == "You said: x"
