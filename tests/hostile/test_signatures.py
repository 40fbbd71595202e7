"""Only Slack, signing with the app's secret within the last five minutes, gets in.

Every rejected request must leave no trace: no Slack call, no model call, no audit row.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.fakes.slack_api import event_body, sign, slash_body
from tests.faults.harness import final_bot_text, settle
from tests.hostile.conftest import Hostile

ASK = "<@U0BOT0001> what is retrieval augmented generation?"


def test_wrong_secret_is_401(h: Hostile) -> None:
    resp = h.node.send_event(
        event_body("event_app_mention.json", text=ASK), secret="guessed-secret"
    )
    assert resp.status_code == 401
    h.nothing_happened()


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_missing_signature_headers_are_401(h: Hostile, drop: str) -> None:
    raw = json.dumps(event_body("event_app_mention.json", text=ASK))
    headers = sign(h.slack.signing_secret, raw)
    for name in list(headers):
        if drop in (name, "both"):
            del headers[name]
    resp = h.node.post(raw, signed=False, headers=headers)
    assert resp.status_code == 401
    h.nothing_happened()


@pytest.mark.parametrize(
    "signature",
    ["", "v0=", "v1=00", "v0=" + "0" * 64, "v0=zz", "sha256=abc", "v0=" + "a" * 10_000],
)
def test_malformed_signatures_are_401(h: Hostile, signature: str) -> None:
    raw = json.dumps(event_body("event_app_mention.json", text=ASK))
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": signature}
    resp = h.node.post(raw, signed=False, headers=headers)
    assert resp.status_code == 401
    h.nothing_happened()


MALFORMED_TIMESTAMPS = ["", "abc", "1e9", "1.5", "0x10", "-1", "99999999999999999999"]

@pytest.mark.parametrize("timestamp", MALFORMED_TIMESTAMPS)
def test_malformed_timestamps_are_401_not_5xx(h: Hostile, timestamp: str) -> None:
    raw = json.dumps(event_body("event_app_mention.json", text=ASK))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64}
    resp = h.node.post(raw, signed=False, headers=headers)
    assert resp.status_code == 401
    h.nothing_happened()


@pytest.mark.parametrize("timestamp", [t for t in MALFORMED_TIMESTAMPS if not t.startswith("-")])
def test_malformed_timestamps_on_commands_are_401_not_5xx(h: Hostile, timestamp: str) -> None:
    form = slash_body("/ask", "what is RAG?", response_url=h.slack.response_url("c"))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64}
    resp = h.node.post(
        form, content_type="application/x-www-form-urlencoded", signed=False, headers=headers
    )
    assert resp.status_code == 401
    h.nothing_happened()


def test_signature_of_another_body_is_401(h: Hostile) -> None:
    """A captured signature cannot be reused for a different (tampered) body."""
    original = json.dumps(event_body("event_app_mention.json", text=ASK))
    headers = sign(h.slack.signing_secret, original)
    tampered = original.replace("retrieval", "RETRIEVAL")
    resp = h.node.post(tampered, signed=False, headers=headers)
    assert resp.status_code == 401
    h.nothing_happened()


@pytest.mark.parametrize("age_s", [301, 600, 86_400, -301, -3600])
def test_replay_outside_five_minutes_is_401(h: Hostile, age_s: int) -> None:
    """A correctly signed request whose timestamp is more than 5 minutes old (or ahead)."""
    body = event_body("event_app_mention.json", text=ASK)
    resp = h.node.send_event(body, timestamp=int(time.time()) - age_s)
    assert resp.status_code == 401
    h.nothing_happened()


def test_replay_of_an_accepted_request_is_answered_once(h: Hostile) -> None:
    """Inside the window a byte-for-byte replay passes the signature check; the event id
    dedupe must stop it from producing a second answer."""
    body = event_body("event_app_mention.json", text=ASK)
    raw = json.dumps(body)
    headers = sign(h.slack.signing_secret, raw)
    first = h.node.post(raw, signed=False, headers=headers)
    assert first.status_code == 200
    event = body["event"]
    final_bot_text(h.slack, event["channel"], event["ts"], ("You said",))
    for _ in range(3):
        assert h.node.post(raw, signed=False, headers=headers).status_code == 200
    settle(h.slack)
    assert h.model.model_calls == 1
    answers = [t for t in h.slack.bot_messages() if t.get("thread_ts") == event["ts"]]
    assert len(answers) == 1


def test_slash_command_with_bad_signature_is_401(h: Hostile) -> None:
    form = slash_body("/ask", "what is RAG?", response_url=h.slack.response_url("c"))
    resp = h.node.post(
        form, content_type="application/x-www-form-urlencoded", secret="not-the-secret"
    )
    assert resp.status_code == 401
    h.nothing_happened()
    assert h.slack.calls_to("response_url") == []


def test_stale_slash_command_is_401(h: Hostile) -> None:
    form = slash_body("/ask", "what is RAG?", response_url=h.slack.response_url("c"))
    resp = h.node.post(
        form, content_type="application/x-www-form-urlencoded", timestamp=int(time.time()) - 900
    )
    assert resp.status_code == 401
    h.nothing_happened()
