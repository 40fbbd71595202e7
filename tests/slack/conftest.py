"""Fixtures: the real Redline HTTP server (waitress, same code path as `redline serve`)
on 127.0.0.1, a fake Slack and a fake model server, and a Slack-like client that sends
signed requests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import build_app
from bot.server import create_http_server
from bot.services import Services, build_services
from bot.settings import Settings
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import FakeSlack, event_body, sign, slash_body


def make_services(settings: Settings) -> Services:
    try:
        from bot.store import Store  # noqa: F401  (the store lands with its own issue)
    except ImportError:
        return build_services(settings, with_store=False)
    return build_services(settings)


@dataclass
class Redline:
    """The running app under test plus what it talks to."""

    url: str
    slack: FakeSlack
    model: FakeModelServer
    settings: Settings
    services: Services
    http: httpx.Client

    # --- Slack's side of the wire ------------------------------------------------------

    def post(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        signed = sign(secret or self.slack.signing_secret, body, timestamp)
        all_headers = {"Content-Type": content_type, **signed, **(headers or {})}
        return self.http.post(
            f"{self.url}/slack/events", content=body.encode("utf-8"), headers=all_headers
        )

    def send_event(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(json.dumps(payload), content_type="application/json", **kw)

    def mention(self, text: str, **kw: Any) -> tuple[dict[str, Any], httpx.Response]:
        body = event_body(
            "event_app_mention.json", text=f"<@{self.slack.bot_user_id}> {text}", **kw
        )
        return body, self.send_event(body)

    def dm(self, text: str, **kw: Any) -> tuple[dict[str, Any], httpx.Response]:
        kw.setdefault("channel", "D0DM00001")
        body = event_body("event_message_im.json", text=text, **kw)
        return body, self.send_event(body)

    def slash(self, command: str, text: str, **kw: Any) -> httpx.Response:
        form = slash_body(command, text, response_url=self.slack.response_url("cmd"), **kw)
        return self.post(form, content_type="application/x-www-form-urlencoded")

    # --- waiting -----------------------------------------------------------------------

    def wait_posts(self, n: int, timeout: float = 10.0) -> list[Any]:
        assert self.slack.wait_for(lambda s: len(s.calls_to("chat.postMessage")) >= n, timeout), (
            f"expected {n} chat.postMessage, got {len(self.slack.calls_to('chat.postMessage'))}"
        )
        return self.slack.calls_to("chat.postMessage")

    def settle(self, quiet_s: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until the fake Slack has seen no new call for `quiet_s` (work finished)."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            count = len(self.slack.calls)
            if count == seen:
                return
            seen = count
            time.sleep(quiet_s)


def _serve(server: Any) -> None:
    # The fixture closes the socket under the select loop: that ends the loop.
    with contextlib.suppress(OSError, ValueError):
        server.run()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def fake_model() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


def start_redline(
    slack: FakeSlack, model: FakeModelServer, tmp_path: Path, **overrides: Any
) -> tuple[Redline, Any, threading.Thread]:
    base = model.settings("openai", llm_timeout_s=2.0)
    values: dict[str, Any] = {
        "slack_bot_token": slack.token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.base_url,
        "database_url": f"sqlite:///{tmp_path / 'redline.db'}",
        "host": "127.0.0.1",
        "port": 1,
        "http_threads": 8,
        "max_body_bytes": 200_000,
    }
    values.update(overrides)
    settings = replace(base, **values)
    services = make_services(settings)
    app = build_app(settings, services)
    server = create_http_server(app, settings, host="127.0.0.1", port=0)
    thread = threading.Thread(target=_serve, args=(server,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    http = httpx.Client(timeout=10)
    return Redline(url, slack, model, settings, services, http), server, thread


@pytest.fixture
def redline(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> Iterator[Redline]:
    running, server, thread = start_redline(fake_slack, fake_model, tmp_path)
    try:
        yield running
    finally:
        running.settle(quiet_s=0.2, timeout=3)
        running.http.close()
        server.close()
        thread.join(timeout=2)
        close = getattr(running.services, "close", None)
        if callable(close):
            close()
