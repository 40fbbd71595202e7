"""The HTTP front door: routing, limits, malformed bodies, request signing."""

from __future__ import annotations

import json
import time

from tests.fakes.slack_api import event_body, load_template, sign
from tests.slack.conftest import Redline


def test_healthz_answers_json(redline: Redline) -> None:
    resp = redline.http.get(f"{redline.url}/healthz")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["ok"] is True
    assert resp.json()["mode"] == "http"


def test_unknown_path_404_and_get_on_events_405(redline: Redline) -> None:
    assert redline.http.get(f"{redline.url}/nope").status_code == 404
    assert redline.http.get(f"{redline.url}/slack/events").status_code == 405


def test_url_verification_handshake(redline: Redline) -> None:
    body = json.dumps(
        {**load_template("url_verification.json"), "token": "x", "challenge": "abc123"}
    )
    resp = redline.post(body, content_type="application/json")
    assert resp.status_code == 200
    assert "abc123" in resp.text


def test_bad_signature_rejected_and_nothing_processed(redline: Redline) -> None:
    body = event_body("event_app_mention.json", text="hello")
    resp = redline.send_event(body, secret="not-the-signing-secret")
    assert resp.status_code == 401
    redline.settle()
    assert redline.slack.calls_to("chat.postMessage") == []
    assert redline.model.model_calls == 0


def test_stale_timestamp_rejected(redline: Redline) -> None:
    body = event_body("event_app_mention.json", text="hello")
    resp = redline.send_event(body, timestamp=int(time.time()) - 10 * 60)
    assert resp.status_code == 401
    redline.settle()
    assert redline.slack.calls_to("chat.postMessage") == []


def test_missing_signature_headers_rejected(redline: Redline) -> None:
    body = json.dumps(event_body("event_app_mention.json", text="hello"))
    resp = redline.http.post(
        f"{redline.url}/slack/events",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 401


def test_malformed_json_is_400_not_5xx(redline: Redline) -> None:
    resp = redline.post('{"type": "event_callback", "event": ', content_type="application/json")
    assert resp.status_code == 400
    assert "Malformed" in resp.text


def test_json_that_is_not_an_object_is_400(redline: Redline) -> None:
    resp = redline.post("[1, 2, 3]", content_type="application/json")
    assert resp.status_code == 400


def test_form_with_broken_payload_json_is_400(redline: Redline) -> None:
    resp = redline.post(
        "payload=%7B%22type%22%3A", content_type="application/x-www-form-urlencoded"
    )
    assert resp.status_code == 400


def test_body_that_is_not_utf8_is_400(redline: Redline) -> None:
    raw = b'{"x": "\xff\xfe"}'
    headers = {"Content-Type": "application/json", **sign(redline.slack.signing_secret, raw)}
    resp = redline.http.post(f"{redline.url}/slack/events", content=raw, headers=headers)
    assert resp.status_code == 400


def test_empty_body_is_400(redline: Redline) -> None:
    resp = redline.post("", content_type="application/json")
    assert resp.status_code == 400


def test_wrongly_shaped_object_is_4xx_not_5xx(redline: Redline) -> None:
    resp = redline.post(
        json.dumps({"type": "event_callback", "event": "not-an-object", "event_id": 5}),
        content_type="application/json",
    )
    assert 400 <= resp.status_code < 500


def test_oversized_body_is_413_before_parsing(redline: Redline) -> None:
    big = json.dumps(
        {"type": "event_callback", "pad": "x" * (redline.settings.max_body_bytes + 10)}
    )
    resp = redline.post(big, content_type="application/json")
    assert resp.status_code == 413
    assert redline.slack.calls_to("chat.postMessage") == []


def test_oversized_chunked_body_is_413(redline: Redline) -> None:
    """No Content-Length (chunked upload): the limit still holds while reading."""
    limit = redline.settings.max_body_bytes

    def chunks():
        for _ in range(limit // 10_000 + 2):
            yield b"x" * 10_000

    resp = redline.http.post(
        f"{redline.url}/slack/events",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413


def test_garbage_timestamp_header_is_401(redline: Redline) -> None:
    body = json.dumps(event_body("event_app_mention.json", text="hello"))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": "yesterday",
        "X-Slack-Signature": "v0=00",
    }
    resp = redline.http.post(f"{redline.url}/slack/events", content=body, headers=headers)
    assert resp.status_code == 401


def test_event_backlog_full_answers_503_so_slack_retries() -> None:
    from bot.server import EventDispatcher

    dispatcher = EventDispatcher(app=None, signing_secret="s" * 20, max_pending=0)  # type: ignore[arg-type]
    assert dispatcher.submit("{}", "", {}) is False


def test_slash_command_with_garbage_timestamp_is_401(redline: Redline) -> None:
    from tests.fakes.slack_api import slash_body

    form = slash_body("/redline", "help", response_url=redline.slack.response_url())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": "1e9",
        "X-Slack-Signature": "v0=00",
    }
    resp = redline.http.post(f"{redline.url}/slack/events", content=form, headers=headers)
    assert resp.status_code == 401


def test_deeply_nested_json_is_400(redline: Redline) -> None:
    body = '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"
    resp = redline.post(body, content_type="application/json")
    assert resp.status_code == 400


def test_interactive_payload_with_wrong_shape_is_400(redline: Redline) -> None:
    from urllib.parse import quote

    for payload in (
        {"type": "block_actions", "user": "U1", "actions": []},
        {"type": "block_actions", "user": {"id": "U1"}, "actions": "all"},
        {"type": "view_submission", "view": 5},
    ):
        form = "payload=" + quote(json.dumps(payload))
        resp = redline.post(form, content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 400, payload
