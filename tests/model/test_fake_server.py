"""The fake model server itself, exercised with plain httpx (so other areas can trust it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.model_server import FakeModelServer, Reply, default_chunks, default_text

ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "k"}


@pytest.fixture
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


def _body(text: str, stream: bool = False) -> dict[str, object]:
    return {
        "model": "m",
        "max_tokens": 10,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def test_default_answer_echoes_last_user_message(fake: FakeModelServer) -> None:
    r = httpx.post(f"{fake.base_url}/chat/completions", json=_body("hé 你好"))
    assert r.json()["choices"][0]["message"]["content"] == "You said: hé 你好"
    r = httpx.post(f"{fake.root_url}/v1/messages", json=_body("x"), headers=ANTHROPIC_HEADERS)
    assert r.json()["content"][0]["text"] == "You said: x"
    assert fake.model_calls == 2
    assert fake.requests[0].last_user_text == "hé 你好"
    assert fake.requests[1].headers["x-api-key"] == "k"


def test_openai_stream_format(fake: FakeModelServer) -> None:
    text = "one two three four five six seven"
    with httpx.stream("POST", f"{fake.base_url}/chat/completions", json=_body(text, True)) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    deltas = [json.loads(d)["choices"][0]["delta"].get("content") for d in data[:-1]]
    assert "".join(d for d in deltas if d) == default_text(text)
    assert len([d for d in deltas if d]) == len(default_chunks(default_text(text))) > 1


def test_anthropic_stream_format_and_error_event(fake: FakeModelServer) -> None:
    fake.script(Reply(chunks=["a", "b"], error_event="overloaded_error"))
    url = f"{fake.root_url}/v1/messages"
    with httpx.stream("POST", url, json=_body("x", True), headers=ANTHROPIC_HEADERS) as r:
        events = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "message_start"
    assert events.count("content_block_delta") == 2
    assert events[-1] == "error"


def test_anthropic_rejects_system_role_and_missing_version(fake: FakeModelServer) -> None:
    url = f"{fake.root_url}/v1/messages"
    assert httpx.post(url, json=_body("x")).status_code == 400
    body = _body("x")
    body["messages"] = [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}]
    assert httpx.post(url, json=body, headers=ANTHROPIC_HEADERS).status_code == 400


def test_scripted_status_headers_and_queue_order(fake: FakeModelServer) -> None:
    fake.script(Reply(status=429, headers={"Retry-After": "3"}), "second")
    url = f"{fake.base_url}/chat/completions"
    first = httpx.post(url, json=_body("x"))
    assert first.status_code == 429 and first.headers["retry-after"] == "3"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert httpx.post(url, json=_body("x")).json()["choices"][0]["message"]["content"] == "second"
    assert "You said" in httpx.post(url, json=_body("x")).text


def test_always_and_responder(fake: FakeModelServer) -> None:
    url = f"{fake.base_url}/chat/completions"
    fake.always(Reply(status=503))
    assert httpx.post(url, json=_body("x")).status_code == 503
    fake.responder = lambda req: "judged" if "judge" in req.last_user_text else None
    assert "judged" in httpx.post(url, json=_body("judge me")).text
    assert httpx.post(url, json=_body("other")).status_code == 503
    fake.always(None)
    assert httpx.post(url, json=_body("other")).status_code == 200


def test_garbage_body_is_sent_as_is(fake: FakeModelServer) -> None:
    fake.script(Reply(body="<html>502 Bad Gateway</html>", status=200))
    r = httpx.post(f"{fake.base_url}/chat/completions", json=_body("x", True))
    assert r.text == "<html>502 Bad Gateway</html>"
    assert r.headers["content-type"].startswith("text/html")


def test_close_mid_stream_breaks_the_chunked_body(fake: FakeModelServer) -> None:
    fake.script(Reply(chunks=["a", "b", "c"], close_after=1))
    url = f"{fake.base_url}/chat/completions"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", url, json=_body("x", True)) as r,
    ):
        list(r.iter_lines())


def test_stall_mid_stream_trips_read_timeout(fake: FakeModelServer) -> None:
    fake.script(Reply(chunks=["a", "b", "c"], stall_after=1))
    url = f"{fake.base_url}/chat/completions"
    seen: list[str] = []
    with pytest.raises(httpx.ReadTimeout):  # noqa: SIM117 - the raise happens mid-iteration
        with httpx.stream("POST", url, json=_body("x", True), timeout=0.3) as r:
            seen.extend(r.iter_lines())
    assert fake.model_calls == 1


def test_api_key_required_when_configured() -> None:
    with FakeModelServer(api_key="sk-right") as fake:
        url = f"{fake.base_url}/chat/completions"
        assert httpx.post(url, json=_body("x")).status_code == 401
        ok = httpx.post(url, json=_body("x"), headers={"Authorization": "Bearer sk-right"})
        assert ok.status_code == 200
        assert fake.requests[-1].api_key == "sk-right"


def test_write_size_splits_multibyte_characters(fake: FakeModelServer) -> None:
    fake.script(Reply(chunks=["é你", "好"], write_size=1))
    url = f"{fake.base_url}/chat/completions"
    with httpx.stream("POST", url, json=_body("x", True)) as r:
        pieces = list(r.iter_raw())
        text = b"".join(pieces).decode()
    assert len(pieces) > 10
    assert "é你" in text and "好" in text


def test_unknown_path_is_404_and_recorded(fake: FakeModelServer) -> None:
    assert httpx.get(f"{fake.root_url}/nope").status_code == 404
    assert fake.model_calls == 0 and fake.requests[0].path == "/nope"
