"""A running Redline node for the reliability tests (hostile/, faults/, replicas/) and the
load benchmark: the real services, Bolt app and WSGI router under waitress on 127.0.0.1,
talking to a fake Slack and a fake model over real HTTP, on a real SQLite file or a real
PostgreSQL schema.

`start_node` uses `build_services` (metrics on the audit sink, rate limits in front of
the ask flow) and assembles client, app and server the way bot/server.py `run_serve` does
(Slack error counting, /metrics, the health report on /healthz). `observed=False` gives
the bare production server instead. Also here: a
throw-away PostgreSQL schema and a loopback TCP proxy that can be cut and restored to
simulate a database outage.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx

from bot.answer_workers import AnswerWorkers, start_answer_workers
from bot.app import build_app, build_counted_app
from bot.health import HealthCheck
from bot.metrics import Metrics
from bot.server import create_http_server
from bot.services import Services, build_services
from bot.settings import Settings
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import TEAM_ID, FakeSlack, all_text, load_template, sign

# --- PostgreSQL -----------------------------------------------------------------------------


class TcpProxy:
    """Loopback TCP forwarder. `cut()` closes the listener and every open connection (the
    database "goes away"); `restore()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> TcpProxy:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._stop = threading.Event()
        threading.Thread(target=self._accept, args=(sock, self._stop), daemon=True).start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in sel.select(timeout=0.5):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._conns.difference_update((a, b))

    def cut(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()


# --- a Redline node -------------------------------------------------------------------------


def node_settings(
    slack: FakeSlack, model: FakeModelServer, database_url: str, **overrides: Any
) -> Settings:
    base = model.settings("openai", llm_timeout_s=2.0)
    values: dict[str, Any] = {
        "slack_bot_token": slack.token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.base_url,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 1,
        "http_threads": 8,
        "max_body_bytes": 200_000,
        "audit_salt": "audit-salt-for-tests-0001",
    }
    values.update(overrides)
    return replace(base, **values)


@dataclass
class Node:
    url: str
    settings: Settings
    services: Services
    metrics: Metrics
    server: Any
    thread: threading.Thread
    answer_workers: AnswerWorkers | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    def post(
        self,
        body: str | bytes,
        *,
        content_type: str = "application/json",
        signed: bool = True,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(secret or self.settings.slack_signing_secret, raw, timestamp))
        all_headers.update(headers or {})
        return self.http.post(f"{self.url}/slack/events", content=raw, headers=all_headers)

    def send_event(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(json.dumps(payload), **kw)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.url}{path}")

    def close(self) -> None:
        self.http.close()
        self.server.close()
        self.thread.join(timeout=0.1)  # waitress keeps its loop until the process ends
        if self.answer_workers is not None:
            self.answer_workers.stop()
        self.services.close()


def start_node(settings: Settings, *, observed: bool = True, port: int = 0) -> Node:
    """Services + Bolt app + HTTP server on a loopback port (0: a free one), in a thread,
    assembled as bot/server.py `run_serve` does. `observed=False` gives the bare server
    (no /metrics, no health report, no Slack error counting)."""
    services = build_services(settings)
    metrics = services.metrics
    app = build_counted_app(settings, services) if observed else build_app(settings, services)
    workers = start_answer_workers(app, settings, metrics)  # settings.answer_processes
    if observed:
        health = HealthCheck.from_services(services, answer_workers=workers)
        server = create_http_server(
            app, settings, host="127.0.0.1", port=port, health=health.report,
            metrics=metrics, answer_workers=workers,
        )
    else:
        server = create_http_server(
            app, settings, host="127.0.0.1", port=port, answer_workers=workers
        )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    return Node(url, settings, services, metrics, server, thread, workers)


# --- reading what Slack saw -----------------------------------------------------------------


def thread_texts(slack: FakeSlack, channel: str, thread_ts: str) -> list[str]:
    """The current text (text + blocks) of every bot message in a thread, then the
    ephemeral notices posted there (prefixed "(ephemeral to U…)")."""
    out: list[str] = []
    for msg in slack.thread(channel, thread_ts):
        if msg.get("bot_id"):
            out.append(all_text(msg))
    for call in ephemerals(slack, channel, thread_ts):
        out.append(f"(ephemeral to {call.params.get('user')}) " + all_text(call.params))
    return out


def ephemerals(slack: FakeSlack, channel: str, thread_ts: str) -> list[Any]:
    """chat.postEphemeral calls made to one thread."""
    return [
        c for c in slack.calls_to("chat.postEphemeral")
        if c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        and c.status == 200
    ]


def bot_texts(slack: FakeSlack) -> list[str]:
    return [all_text(m) for m in slack.bot_messages()]


def final_bot_text(
    slack: FakeSlack, channel: str, thread_ts: str, done: tuple[str, ...], timeout: float = 10.0
) -> str:
    """Wait until a bot message in the thread contains one of `done`; return all its text."""
    found: list[str] = []

    def ready(s: FakeSlack) -> bool:
        for text in thread_texts(s, channel, thread_ts):
            if any(d.lower() in text.lower() for d in done):
                found.append(text)
                return True
        return False

    slack.wait_for(ready, timeout)
    return found[0] if found else "\n---\n".join(thread_texts(slack, channel, thread_ts))


def settle(slack: FakeSlack, quiet_s: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until the fake Slack has seen no new call for `quiet_s`."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        count = len(slack.calls)
        if count == seen:
            return
        seen = count
        time.sleep(quiet_s)


# --- review cards -----------------------------------------------------------------------


def review_buttons(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """Every button on the bot's messages in `channel` (the review cards), with the ts of
    the card it is on."""
    found: list[dict[str, Any]] = []
    for msg in slack.bot_messages():
        if msg.get("channel") != channel:
            continue
        for block in msg.get("blocks") or []:
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("action_id"):
                    found.append({**element, "block_id": block.get("block_id", ""),
                                  "ts": msg["ts"]})
    return found


def press_button(
    node: Node, slack: FakeSlack, action: dict[str, Any], *, user: str, channel: str
) -> int:
    """Press a button as Slack would send it (block_actions, signed); the HTTP status."""
    payload = load_template("block_actions.json")
    payload.update(
        user={"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        team={"id": TEAM_ID, "domain": "fake"},
        channel={"id": channel, "name": "review"},
        container={"type": "message", "message_ts": action["ts"], "channel_id": channel,
                   "is_ephemeral": False},
        message={"ts": action["ts"], "text": "", "blocks": []},
        response_url=slack.response_url("btn"),
        trigger_id=f"trig-{uuid.uuid4().hex[:8]}",
        token="legacy-unused",
        api_app_id="A0APP0001",
        enterprise=None,
        actions=[{
            "action_id": action["action_id"], "block_id": action.get("block_id") or "b",
            "value": action.get("value", ""), "type": "button",
            "text": {"type": "plain_text", "text": "x"}, "action_ts": f"{time.time():.6f}",
        }],
    )
    body = "payload=" + quote(json.dumps(payload))
    return node.post(body, content_type="application/x-www-form-urlencoded").status_code
