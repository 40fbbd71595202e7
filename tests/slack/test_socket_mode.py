"""Socket Mode end to end: a fake Slack WebSocket pushes envelopes, the app acks over
the socket and answers through the Web API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.app import build_app
from bot.server import socket_mode_handler
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack, FakeSocketMode, all_text, event_body, slash_body
from tests.slack.conftest import make_services

CHANNEL = "C0CHAN001"


@pytest.fixture
def socket_app(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> Iterator[tuple[FakeSocketMode, Any]]:
    ws = fake_slack.enable_socket_mode()
    settings = fake_slack.socket_mode_settings(
        fake_model.settings("openai", llm_timeout_s=2.0),
        database_url=f"sqlite:///{tmp_path / 'redline.db'}",
    )
    services = make_services(settings)
    app = build_app(settings, services)
    handler = socket_mode_handler(app, settings)
    handler.connect()
    assert ws.connected(), "the app never opened the Socket Mode connection"
    try:
        yield ws, services
    finally:
        handler.close()
        services.close()


def test_socket_mode_event_is_acked_and_answered_in_thread(
    socket_app: tuple[FakeSocketMode, Any], fake_slack: FakeSlack
) -> None:
    ws, _ = socket_app
    body = event_body("event_app_mention.json", text=f"<@{fake_slack.bot_user_id}> hi socket")
    envelope = ws.send("events_api", body)
    assert ws.wait_ack(envelope) is not None
    ts = body["event"]["ts"]
    assert fake_slack.wait_for(
        lambda s: any("You said: hi socket" in m["text"] for m in s.thread(CHANNEL, ts)), 15
    )
    # Slack redelivers (retry_attempt 1): acked again, answered once.
    again = ws.send("events_api", body, retry_attempt=1)
    assert ws.wait_ack(again) is not None
    fake_slack.wait_for(lambda s: False, 1.0)
    answers = [m for m in fake_slack.thread(CHANNEL, ts) if "You said" in m["text"]]
    assert len(answers) == 1


def test_socket_mode_slash_command_ack_carries_the_reply(
    socket_app: tuple[FakeSocketMode, Any], fake_slack: FakeSlack
) -> None:
    ws, _ = socket_app
    form = slash_body("/redline", "help", response_url=fake_slack.response_url())
    envelope = ws.send("slash_commands", dict(parse_qsl(form)))
    ack = ws.wait_ack(envelope)
    assert ack is not None
    assert "/redline check" in all_text(ack.get("payload") or {})
