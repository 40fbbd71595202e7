"""A fake Slack on 127.0.0.1: the Web API methods Redline calls, and Slack's side of the
Events API (signed request bodies built from the shared payload templates).

Real HTTP (``ThreadingHTTPServer`` in a daemon thread, random free port), so the code
under test uses its real slack_sdk ``WebClient``; nothing is mocked.

Quick start::

    with FakeSlack() as slack:
        settings = slack.settings(llm_provider="none")   # token, signing secret, API URL
        client = WebClient(token=slack.token, base_url=slack.base_url)
        ...
        posts = slack.calls_to("chat.postMessage")
        slack.fail("chat.postMessage", status=429, retry_after=1)   # next call only
        slack.fail("chat.update", error="message_not_found", times=2)

Web API (``POST /api/<method>``, form or JSON body, ``Authorization: Bearer``):
auth.test, chat.postMessage, chat.update, chat.postEphemeral, chat.delete,
conversations.replies (threads are kept, so follow-ups see earlier turns),
assistant.threads.setStatus / setSuggestedPrompts / setTitle, views.publish, views.open,
usergroups.users.list, users.info. Unknown methods answer ``ok: false,
unknown_method``. A wrong token answers ``invalid_auth``.

``response_url`` posts (``POST /response/<name>``) are recorded as method
``"response_url"`` with ``path``.

Every call is recorded (``slack.calls``: ``Call`` with method, params, time) before it is
answered. ``wait_for(pred, timeout)`` blocks until ``pred(slack)`` holds.

Signing and payloads: ``sign(secret, body, ts)`` gives the two headers exactly as Slack
computes them (``v0=`` + hex HMAC-SHA256 of ``v0:{ts}:{raw body}``); ``event_body``,
``slash_body`` and ``fill`` build bodies from the templates in ``tests/slack/payloads``
(copies of ``../shared/slack-payloads``), following their README: a string that is
exactly ``{{NAME}}`` takes the value's own type; a placeholder with no value removes its
field (e.g. ``thread_ts`` outside threads).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bot.settings import Settings

PAYLOADS_DIR = Path(__file__).resolve().parent.parent / "slack" / "payloads"
TOKEN = "xoxb-fake-0000-test-token"
APP_TOKEN = "xapp-1-fake-0000-app-token"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0BOT0001"
BOT_ID = "B0BOT0001"
APP_ID = "A0APP0001"
_MISSING = object()


# --- signing and payloads ----------------------------------------------------------------


def sign(secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request-signing headers for `body` (v0 scheme)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + ts.encode() + b":" + raw
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def load_template(name: str) -> Any:
    return json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8"))


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill `{{NAME}}` placeholders per the templates' README rules."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            filled = fill(value, values)
            if filled is not _MISSING:
                out[key] = filled
        return out
    if isinstance(template, list):
        return [v for v in (fill(item, values) for item in template) if v is not _MISSING]
    if isinstance(template, str):
        if template.startswith("{{") and template.endswith("}}") and template.count("{{") == 1:
            name = template[2:-2]
            return values.get(name, _MISSING)
        out_s = template
        for name, value in values.items():
            out_s = out_s.replace("{{" + name + "}}", str(value))
        return out_s
    return template


_event_ids = itertools.count(1)


def event_body(
    template: str,
    *,
    text: str = "",
    user: str = "U0USER001",
    channel: str = "C0CHAN001",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Events API envelope around the event template `template` (e.g. an app_mention)."""
    ts = ts or f"{int(time.time())}.{next(_event_ids):06d}"
    values: dict[str, Any] = {
        "USER_ID": user,
        "TS": ts,
        "CLIENT_MSG_ID": f"msg-{ts}",
        "TEXT": text,
        "TEAM_ID": TEAM_ID,
        "BLOCKS": [],
        "CHANNEL_ID": channel,
        "BOT_USER_ID": BOT_USER_ID,
        "BOT_ID": BOT_ID,
        "API_APP_ID": APP_ID,
        "VERIFICATION_TOKEN": "legacy-unused",
    }
    if thread_ts:
        values["THREAD_TS"] = thread_ts
        values["PARENT_USER_ID"] = user
    values.update(extra)
    event = fill(load_template(template), values)
    envelope = {
        **values,
        "EVENT": event,
        "EVENT_ID": event_id or f"Ev{next(_event_ids):010d}",
        "EVENT_TIME": int(float(ts)),
        "EVENT_CONTEXT": f"4-ctx-{ts}",
    }
    return fill(load_template("event_callback.json"), envelope)


def slash_body(
    command: str,
    text: str,
    *,
    response_url: str,
    user: str = "U0USER001",
    channel: str = "C0CHAN001",
    **extra: Any,
) -> str:
    """A slash-command form body, fields in the template's order."""
    values: dict[str, Any] = {
        "VERIFICATION_TOKEN": "legacy-unused",
        "TEAM_ID": TEAM_ID,
        "TEAM_DOMAIN": "fake",
        "CHANNEL_ID": channel,
        "CHANNEL_NAME": "general",
        "USER_ID": user,
        "USER_NAME": "alice",
        "COMMAND": command,
        "TEXT": text,
        "API_APP_ID": APP_ID,
        "RESPONSE_URL": response_url,
        "TRIGGER_ID": f"trig-{next(_event_ids)}",
    }
    values.update(extra)
    filled = fill(load_template("slash_command.json"), values)
    return urlencode(list(filled.items()))


# --- the fake Web API --------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    # Python's default listen backlog is 5: a burst of 50 app threads calling at once
    # would overflow it and wait out a 1 s SYN retransmit, which real Slack never causes.
    request_queue_size = 256


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.perf_counter() when received
    path: str = ""
    status: int = 200  # what the fake answered


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: float | None
    times: int


@dataclass
class _Message:
    channel: str
    ts: str
    text: str
    user: str
    blocks: list[Any] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        out["user"] = self.user
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.bot_id:
            out["bot_id"] = self.bot_id
        return out


class FakeSlack:
    def __init__(self, token: str = TOKEN, signing_secret: str = SIGNING_SECRET) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.team_id = TEAM_ID
        self.app_token = APP_TOKEN
        self.usergroup_users: dict[str, list[str]] = {}
        # Set by `enable_socket_mode()`: the WebSocket side of Socket Mode.
        self.socket_mode: FakeSocketMode | None = None
        self._calls: list[Call] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._messages: list[_Message] = []
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self._ts_base = int(time.time())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                status, payload = fake._handle(self.path, dict(self.headers), raw)
                retry_after = payload.pop("_retry_after", None)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def enable_socket_mode(self) -> FakeSocketMode:
        """Serve Socket Mode: apps.connections.open hands out this WebSocket's URL."""
        self.socket_mode = FakeSocketMode().start()
        return self.socket_mode

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": self.token,
            "slack_signing_secret": self.signing_secret,
            "slack_api_url": self.base_url,
        }
        values.update(overrides)
        return Settings(**values)

    def socket_mode_settings(self, base: Settings, **overrides: Any) -> Settings:
        """`base` (e.g. a fake model's settings) in Socket Mode against this fake: the
        app-level token set, no signing secret."""
        values: dict[str, Any] = {
            "slack_bot_token": self.token,
            "slack_app_token": self.app_token,
            "slack_signing_secret": "",
            "slack_api_url": self.base_url,
        }
        values.update(overrides)
        return replace(base, **values)

    # --- scripting and inspection -------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail: an HTTP status (429 with
        Retry-After, 500…) or `ok: false` with `error`."""
        if status == 200 and error is None:
            error = "fatal_error"
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            self._failures.setdefault(method, []).append(
                _Failure(status, error, retry_after, times)
            )

    @property
    def calls(self) -> list[Call]:
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()
            self._failures.clear()

    def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0USER001",
        thread_ts: str | None = None,
        bot_id: str | None = None,
    ) -> str:
        """Seed a message (e.g. earlier turns of a thread); returns its ts."""
        with self._cond:
            ts = self._next_ts()
            self._messages.append(_Message(channel, ts, text, user, [], thread_ts, bot_id))
            return ts

    def next_ts(self) -> str:
        """A fresh ts later than every message so far (for a triggering event)."""
        with self._cond:
            return self._next_ts()

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._cond:
            return [
                m.as_api()
                for m in sorted(self._messages, key=lambda m: float(m.ts))
                if m.channel == channel and (m.ts == thread_ts or m.thread_ts == thread_ts)
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._cond:
            for m in self._messages:
                if m.channel == channel and m.ts == ts:
                    return m.as_api()
        return None

    def bot_messages(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m.as_api() | {"channel": m.channel} for m in self._messages if m.bot_id]

    # --- request handling --------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ts):06d}"

    def _handle(self, path: str, headers: dict[str, str], raw: str) -> tuple[int, dict[str, Any]]:
        params = _parse(raw, headers)
        if path.startswith("/response/"):
            self._record(Call("response_url", params, time.perf_counter(), path))
            return 200, {"ok": True}
        method = path.removeprefix("/api/").split("?")[0]
        with self._cond:
            failure = self._take_failure(method)
        if failure is not None:
            status = failure.status
            payload: dict[str, Any] = {"ok": False, "error": failure.error or "ratelimited"}
            if status == 429:
                payload["_retry_after"] = failure.retry_after
            self._record(Call(method, params, time.perf_counter(), path, status))
            if status == 200 or status == 429:
                return status, payload
            return status, {"ok": False, "error": failure.error or "internal_error"}
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        token = params.get("token") or auth.removeprefix("Bearer ").strip()
        expected = self.app_token if method == "apps.connections.open" else self.token
        if token != expected:
            self._record(Call(method, params, time.perf_counter(), path))
            return 200, {"ok": False, "error": "invalid_auth"}
        with self._cond:
            result = self._api(method, params)
        self._record(Call(method, params, time.perf_counter(), path))
        return 200, result

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def _api(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return ok | {
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "user": "redline",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            if self.socket_mode is None:
                return {"ok": False, "error": "socket_mode_not_enabled"}
            return ok | {"url": self.socket_mode.url}
        if method == "chat.postMessage":
            if not p.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not p.get("text") and not p.get("blocks"):
                return {"ok": False, "error": "no_text"}
            ts = self._next_ts()
            msg = _Message(
                str(p["channel"]),
                ts,
                str(p.get("text") or ""),
                self.bot_user_id,
                list(p.get("blocks") or []),
                p.get("thread_ts") or None,
                self.bot_id,
            )
            self._messages.append(msg)
            return ok | {"channel": msg.channel, "ts": ts, "message": msg.as_api()}
        if method == "chat.update":
            for m in self._messages:
                if m.channel == p.get("channel") and m.ts == p.get("ts"):
                    m.text = str(p.get("text") or "")
                    m.blocks = list(p.get("blocks") or [])
                    return ok | {"channel": m.channel, "ts": m.ts, "text": m.text}
            return {"ok": False, "error": "message_not_found"}
        if method == "chat.delete":
            self._messages = [
                m
                for m in self._messages
                if not (m.channel == p.get("channel") and m.ts == p.get("ts"))
            ]
            return ok
        if method == "chat.postEphemeral":
            return ok | {"message_ts": self._next_ts()}
        if method == "conversations.replies":
            thread = [
                m.as_api()
                for m in sorted(self._messages, key=lambda m: float(m.ts))
                if m.channel == p.get("channel")
                and (m.ts == p.get("ts") or m.thread_ts == p.get("ts"))
            ]
            if not thread:
                return {"ok": False, "error": "thread_not_found"}
            start = int(p.get("cursor") or 0)
            limit = int(p.get("limit") or 1000)
            page = thread[start : start + limit]
            more = start + limit < len(thread)
            meta = {"next_cursor": str(start + limit) if more else ""}
            return ok | {"messages": page, "has_more": more, "response_metadata": meta}
        if method in (
            "assistant.threads.setStatus",
            "assistant.threads.setSuggestedPrompts",
            "assistant.threads.setTitle",
        ):
            return ok
        if method in ("views.publish", "views.open"):
            return ok | {"view": {"id": f"V{next(self._ts):08d}"}}
        if method == "usergroups.users.list":
            users = self.usergroup_users.get(str(p.get("usergroup")))
            if users is None:
                return {"ok": False, "error": "no_such_subteam"}
            return ok | {"users": users}
        if method == "users.info":
            return ok | {"user": {"id": p.get("user"), "name": "someone", "is_bot": False}}
        return {"ok": False, "error": "unknown_method"}


def _parse(raw: str, headers: Mapping[str, str]) -> dict[str, Any]:
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if not raw:
        return {}
    if "json" in ctype:
        try:
            data = json.loads(raw)
        except ValueError:
            return {"_raw": raw}
        return data if isinstance(data, dict) else {"_raw": raw}
    params: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    for key in ("blocks", "prompts", "view", "attachments"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


def all_text(params: Mapping[str, Any]) -> str:
    """Every piece of text a chat.postMessage/update call would show (text + blocks)."""
    parts = [str(params.get("text") or "")]

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    parts.extend(walk(params.get("blocks") or []))
    return "\n".join(parts)


# --- Socket Mode: a minimal WebSocket server (RFC 6455 text frames, ping/pong, close) -----

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    """Slack's side of Socket Mode: says hello, pushes envelopes, records the app's acks.

    ``send(type, payload)`` pushes an envelope (``events_api``, ``slash_commands``,
    ``interactive``) and returns its ``envelope_id``; ``wait_ack(envelope_id)`` returns the
    app's acknowledgement (``{"envelope_id": ..., "payload": ...}``) once it arrives.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self._stopped = False

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def start(self) -> FakeSocketMode:
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()

    def connected(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._conn is not None, timeout)

    def send(self, envelope_type: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        envelope_id = str(uuid.uuid4())
        self._send_text(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                    "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else "",
                }
            )
        )
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any] | None:
        with self._cond:
            self._cond.wait_for(lambda: envelope_id in self.acks, timeout)
            return self.acks.get(envelope_id)

    # --- wire -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            try:
                self._handshake(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            with self._cond:
                self._conn = conn
                self._cond.notify_all()
            self._send_text(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": 1,
                        "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                        "connection_info": {"app_id": APP_ID},
                    }
                )
            )
            threading.Thread(target=self._read_loop, args=(conn,), daemon=True).start()

    @staticmethod
    def _handshake(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                raise ValueError("closed during handshake")
            data += chunk
        key = ""
        for line in data.decode("latin-1").split("\r\n"):
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )

    def _send_frame(self, opcode: int, data: bytes) -> None:
        head = bytes([0x80 | opcode])
        n = len(data)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack("!H", n)
        else:
            head += bytes([127]) + struct.pack("!Q", n)
        with self._send_lock:
            if self._conn is not None:
                self._conn.sendall(head + data)

    def _send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def _read_loop(self, conn: socket.socket) -> None:
        buf = b""

        def need(n: int) -> bytes:
            nonlocal buf
            while len(buf) < n:
                chunk = conn.recv(65536)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        try:
            while not self._stopped:
                b1, b2 = need(2)
                opcode = b1 & 0x0F
                length = b2 & 0x7F
                if length == 126:
                    length = struct.unpack("!H", need(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", need(8))[0]
                mask = need(4) if b2 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(need(length)))
                if opcode == 0x9:  # ping
                    self._send_frame(0xA, data)
                elif opcode == 0x8:  # close
                    self._send_frame(0x8, data[:2])
                    return
                elif opcode == 0x1:
                    message = json.loads(data.decode("utf-8"))
                    with self._cond:
                        self.received.append(message)
                        if "envelope_id" in message:
                            self.acks[message["envelope_id"]] = message
                        self._cond.notify_all()
        except (OSError, ValueError):
            return
