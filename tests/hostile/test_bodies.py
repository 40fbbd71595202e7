"""Oversized and malformed bodies get a clear 4xx, never a 5xx, and change nothing."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote, urlparse

import pytest

from tests.fakes.slack_api import event_body, sign
from tests.hostile.conftest import Hostile


def _raw_exchange(url: str, head: bytes, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send bytes on a raw socket and read the answer (no client-side checks at all)."""
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_oversized_signed_body_is_413(h: Hostile) -> None:
    limit = h.node.settings.max_body_bytes
    body = event_body("event_app_mention.json", text="<@U0BOT0001> " + "a" * (limit + 10))
    resp = h.node.send_event(body)
    assert resp.status_code == 413
    h.nothing_happened()


def test_oversized_content_length_is_refused_before_the_body_is_read(h: Hostile) -> None:
    """Claim 50 MB and send only the headers: the 413 comes back at once, so the server
    neither waits for nor buffers the body, and never parses it."""
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
    )
    answer = _raw_exchange(h.node.url, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    h.nothing_happened()


def test_lying_content_length_does_not_let_more_through(h: Hostile) -> None:
    """Content-Length says small, the stream carries more: only the declared bytes count,
    and what follows is a separate (garbage) request, not part of this body."""
    body = json.dumps(event_body("event_app_mention.json", text="<@U0BOT0001> hi"))
    extra = b"x" * 300_000
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10\r\nConnection: close\r\n\r\n"
    )
    answer = _raw_exchange(h.node.url, head, body.encode() + extra)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500
    h.nothing_happened()


MALFORMED_JSON = [  # not JSON at all, or not a JSON object
    '{"type": "event_callback", "event": ',
    "{",
    "{}}",
    '{"type": "event_callback"',
    "[1, 2, 3]",
    "null",
    '"just a string"',
    "42",
    "\ufeff{}",
]

WRONG_SHAPE_JSON = [  # a JSON object, but not a Slack request Redline can act on
    '{"type": NaN}',
    '{"type": "event_callback", "event": "text instead of an object"}',
    '{"type": ["event_callback"]}',
    '{"type": "event_callback", "event": null, "event_id": {"x": 1}}',
    '{"type": "event_callback", "team_id": 5, "event": {"type": 7}}',
    '{"type": "event_callback", "authorizations": "all"}',
    '{"\\ud800": "lone surrogate key"}',
    "{" + '"k": 1, ' * 5000 + '"k": 2}',
]

DEEP_JSON = [
    '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"type": "event_callback", "event": ' + '{"a": ' * 30_000 + "1" + "}" * 30_001,
]


@pytest.mark.parametrize("body", MALFORMED_JSON)
@pytest.mark.parametrize("signed", [True, False])
def test_malformed_json_is_400(h: Hostile, body: str, signed: bool) -> None:
    resp = h.node.post(body.encode("utf-8", "surrogatepass"), signed=signed)
    assert resp.status_code == 400, (resp.status_code, resp.text[:200])
    assert resp.text.strip()  # says what is wrong
    h.nothing_happened()


@pytest.mark.parametrize("body", WRONG_SHAPE_JSON + DEEP_JSON)
@pytest.mark.parametrize("signed", [True, False])
def test_wrongly_shaped_json_is_never_5xx(h: Hostile, body: str, signed: bool) -> None:
    """A clear 4xx, or a 200 ack for a well-signed event of a type nobody listens to;
    either way nothing is processed."""
    resp = h.node.post(body.encode("utf-8", "surrogatepass"), signed=signed)
    assert resp.status_code < 500, (resp.status_code, resp.text[:200])
    if not signed:
        assert 400 <= resp.status_code < 500
    h.nothing_happened()


def _payload(obj: object) -> str:
    return "payload=" + quote(json.dumps(obj))


MALFORMED_FORMS = [
    "payload=%7B%22type%22%3A",
    "payload=%5B%5D",
    "payload=null",
    "payload=%ZZ",
    "payload=",
    "&&&===",
    "=",
    "command=",
    "command=%2Fask&text=" + "%FF" * 10,
    "text=hello&user_id=U1",
    _payload({"type": "block_actions"}),
    _payload({"type": "block_actions", "user": "U1", "actions": []}),
    _payload({"type": "view_submission"}),
    _payload({"type": "shortcut", "callback_id": ["x"]}),
    _payload({"type": 5}),
    "view=T",
    "team=x&message=hello",
    _payload({"type": "block_actions", "view": "x"}),
    _payload({"type": "block_actions", "user": {"id": "U1"}, "actions": "nope"}),
    _payload({"type": "block_actions", "user": None, "actions": [None, 5]}),
    _payload({"type": "view_submission", "view": 5}),
]


@pytest.mark.parametrize("body", MALFORMED_FORMS)
def test_malformed_signed_form_is_never_5xx(h: Hostile, body: str) -> None:
    """Signed (so they get past verification into Bolt): a clear 4xx, or a 200 for the few
    that are valid-but-useless Slack requests (an empty command, an unknown action).
    None of them reaches the model."""
    resp = h.node.post(body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code < 500, (resp.status_code, resp.text[:200])
    settle_and_check_no_model(h)


def settle_and_check_no_model(h: Hostile) -> None:
    from tests.faults.harness import settle

    settle(h.slack, quiet_s=0.25, timeout=3)
    assert h.model.model_calls == 0


def test_non_utf8_body_is_400(h: Hostile) -> None:
    raw = b'{"type": "event_callback", "x": "\xff\xfe\xc3"}'
    resp = h.node.post(raw)
    assert resp.status_code == 400
    h.nothing_happened()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "", "application/xml", "multipart/form-data"]
)
def test_wrong_content_type_is_not_5xx(h: Hostile, content_type: str) -> None:
    body = json.dumps(event_body("event_app_mention.json", text="<@U0BOT0001> hello"))
    resp = h.node.post(body, content_type=content_type)
    assert resp.status_code < 500


def test_server_still_healthy_after_the_abuse(h: Hostile) -> None:
    for _ in range(3):
        h.node.post("{" * 10, signed=False)
        h.node.post(b"\x00\x01\x02", content_type="application/octet-stream")
    resp = h.node.get("/healthz")
    assert resp.status_code == 200 and resp.json()["database"]["ok"] is True
    body = event_body("event_app_mention.json", text="<@U0BOT0001> still there?")
    assert h.node.send_event(body).status_code == 200
    assert h.slack.wait_for(lambda s: any("still there" in str(m) for m in s.bot_messages()), 10)


def test_signature_headers_do_not_reach_processing_when_timestamp_is_old(h: Hostile) -> None:
    raw = json.dumps(event_body("event_app_mention.json", text="<@U0BOT0001> hi")).encode()
    headers = sign(h.slack.signing_secret, raw, int(time.time()) - 301)
    resp = h.node.post(raw, signed=False, headers=headers)
    assert resp.status_code == 401
    h.nothing_happened()
