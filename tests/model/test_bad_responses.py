"""Garbage from the provider becomes ModelError(bad_response), never a crash or a hang."""

from __future__ import annotations

import pytest

from bot.model import ChatMessage, ModelError
from tests.fakes.model_server import FakeModelServer, Reply
from tests.model.conftest import MakeClient

ASK = [ChatMessage("user", "hello")]
HTML = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"

GARBAGE_BODIES = [
    pytest.param("this is not json", id="plain-text"),
    pytest.param(HTML, id="html-page"),
    pytest.param("{}", id="empty-object"),
    pytest.param("[1, 2]", id="json-list"),
    pytest.param('{"choices": [], "content": "x"}', id="missing-fields"),
    pytest.param(
        '{"choices": [{"message": {"content": 5}}], "content": [{"type": "text"}]}',
        id="wrong-types",
    ),
    pytest.param('{"choices": "x", "content": "x"', id="truncated-json"),
]


@pytest.mark.parametrize("body", GARBAGE_BODIES)
def test_garbage_whole_answer(
    fake: FakeModelServer, make_client: MakeClient, provider: str, body: str
) -> None:
    fake.script(Reply(body=body))
    with pytest.raises(ModelError) as caught:
        make_client(provider).complete(ASK)
    assert caught.value.kind == "bad_response"
    assert caught.value.user_message == (
        "The model service sent a reply that could not be read; please try again."
    )
    assert "nginx" not in str(caught.value)  # raw provider bodies stay out
    assert fake.model_calls == 1  # garbage is not retried


def test_html_page_instead_of_a_stream(
    fake: FakeModelServer, make_client: MakeClient, provider: str
) -> None:
    fake.script(Reply(body=HTML))
    with pytest.raises(ModelError) as caught:
        list(make_client(provider).stream(ASK))
    assert caught.value.kind == "bad_response"


GARBAGE_STREAMS = [
    pytest.param(b"data: not json\n\n", id="data-not-json"),
    pytest.param(b"data: [1,2]\n\n", id="data-json-list"),
    pytest.param(b"hello there\nno sse here\n\n", id="no-events"),
    pytest.param(
        b'data: {"choices": 3, "type": "content_block_delta", "delta": 3}\n\n', id="wrong-shapes"
    ),
    pytest.param(b"data: \xff\xfe\n\n", id="invalid-utf8"),
]


@pytest.mark.parametrize("sse", GARBAGE_STREAMS)
def test_garbage_stream(
    fake: FakeModelServer, make_client: MakeClient, provider: str, sse: bytes
) -> None:
    fake.script(Reply(sse=sse))
    with pytest.raises(ModelError) as caught:
        list(make_client(provider).stream(ASK))
    assert caught.value.kind == "bad_response"


def test_stream_that_ends_without_its_end_marker(
    fake: FakeModelServer, make_client: MakeClient
) -> None:
    chunk = b'data: {"choices": [{"index": 0, "delta": {"content": "half"}}]}\n\n'
    fake.script(Reply(sse=chunk), Reply(sse=chunk))
    seen: list[str] = []
    with pytest.raises(ModelError) as caught:
        seen.extend(make_client("openai").stream(ASK))
    assert seen == ["half"]
    assert caught.value.kind == "server"  # cut off, after text: not retried
    assert fake.model_calls == 1


def test_openai_stream_with_stop_reason_but_no_done_is_accepted(
    fake: FakeModelServer, make_client: MakeClient
) -> None:
    sse = (
        b'data: {"choices": [{"index": 0, "delta": {"content": "all"}}]}\n\n'
        b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
        b'data: {"choices": []}\n\n'  # a usage-only chunk
    )
    fake.script(Reply(sse=sse))
    assert list(make_client("openai").stream(ASK)) == ["all"]


def test_openai_error_object_inside_a_200(fake: FakeModelServer, make_client: MakeClient) -> None:
    fake.script(Reply(body='{"error": {"message": "model overloaded", "type": "server_error"}}'))
    fake.script(Reply(body='{"error": {"message": "bad prompt", "type": "invalid_request"}}'))
    with pytest.raises(ModelError) as caught:
        make_client("openai").complete(ASK)
    assert caught.value.kind == "server"
    assert fake.model_calls == 2  # the overload was retried, the invalid request was not


def test_anthropic_error_event_kinds(fake: FakeModelServer, make_client: MakeClient) -> None:
    fake.script(Reply(chunks=["x"], error_event="rate_limit_error"))
    with pytest.raises(ModelError) as caught:
        list(make_client("anthropic").stream(ASK))
    assert caught.value.kind == "rate_limited"


def test_answer_larger_than_any_answer(fake: FakeModelServer, make_client: MakeClient) -> None:
    fake.script(Reply(body=b"{" + b" " * 9_000_000 + b"}"))
    with pytest.raises(ModelError) as caught:
        make_client("openai").complete(ASK)
    assert caught.value.kind == "bad_response"
