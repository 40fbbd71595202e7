"""A fake model API on 127.0.0.1 that speaks OpenAI-compatible and Anthropic HTTP.

Real HTTP (``ThreadingHTTPServer`` in a daemon thread, random free port), so the code under
test uses its real httpx client; nothing is mocked. Used by the model-client tests, the ask
flow / Slack tests, the policy engine's LLM-judge tests and the benchmarks.

Endpoints (POST, JSON body):

- ``…/chat/completions`` (e.g. ``/v1/chat/completions``): OpenAI chat completions,
  ``"stream": true`` answers ``text/event-stream`` ``data: {...}`` lines ending ``data: [DONE]``.
- ``…/messages`` (e.g. ``/v1/messages``): Anthropic Messages API, ``"stream": true`` answers
  ``message_start`` / ``content_block_delta`` (``text_delta``) / … / ``message_stop`` events.
  Like the real API it answers 400 when ``anthropic-version`` is missing or a message has
  the role ``system``.
- anything else: 404.

Quick start::

    from tests.fakes.model_server import FakeModelServer, Reply

    with FakeModelServer() as fake:
        settings = fake.settings("openai", llm_timeout_s=0.5)   # or "anthropic"
        ...                                   # fake.base_url == "http://127.0.0.1:PORT/v1"
        fake.script(Reply(status=429, headers={"Retry-After": "0"}), Reply(text="ok"))
        ...
        assert fake.model_calls == 2
        assert fake.requests[-1].last_user_text == "hello"

As a pytest fixture::

    @pytest.fixture
    def fake_model():
        with FakeModelServer() as server:
            yield server

Default behaviour (nothing scripted): the answer is ``default_text(last user message)``,
i.e. ``"You said: <last user message>"``, sent in chunks of a few words when streaming
(``default_chunks``). Deterministic, so tests can assert the exact text.

Scripting: ``fake.script(Reply(...), Reply(...))`` queues replies; each model request takes
the next one (first in, first out) and falls back to the default once the queue is empty.
``fake.always(Reply(...))`` replaces the default for every request after the queue (e.g. a
model that always answers 500, or always stalls); ``fake.always(None)`` restores the echo.
``fake.responder = fn`` (``fn(RecordedRequest) -> Reply | str | None``) decides from the
request itself, e.g. an LLM judge that answers JSON depending on the text; ``None`` falls
through to the queue / default. A ``str`` means ``Reply(text=that)``.

A ``Reply`` can set: HTTP ``status`` and ``headers`` (e.g. ``Retry-After``); ``text`` or
``chunks`` (text deltas; in a non-streamed answer the chunks are joined); ``body`` (raw
bytes/str sent as is, whatever the request asked: garbage, an HTML error page, a JSON body
of your choosing); ``sse`` (raw SSE bytes for a streamed answer, sent as is);
``delay_first_byte`` (seconds before the status line); ``delay_between_chunks``;
``stall_after=n`` (send n text chunks, then keep the connection open without sending
anything until the server stops); ``close_after=n`` (send n chunks, then drop the TCP
connection without finishing the body); ``error_event`` (send a provider error event,
e.g. ``"overloaded_error"``, after the chunks instead of the normal end); ``write_size``
(write the streamed bytes in pieces of this many bytes, each flushed separately, so
multi-byte UTF-8 characters are split across TCP writes). A non-2xx ``status`` without a
``body`` gets the provider's usual JSON error body.

Recipes: rate limited then fine ``script(Reply(status=429, headers={"Retry-After": "1"}))``;
always failing ``always(Reply(status=500))``; a model that never answers
``Reply(delay_first_byte=3600)`` (handlers wake up when the server stops); a stream that
stops mid-answer ``Reply(chunks=["Partial", " answer"], stall_after=1)``; an HTML error
page ``Reply(status=502, body="<html>Bad Gateway</html>")``; a judge answering JSON
``responder = lambda req: Reply(text='{"decision": "allow"}')``.

Every request (model endpoints or not) is recorded before it is answered in
``fake.requests`` (``RecordedRequest``: method, path, headers with lower-case names, raw
body, parsed ``json``, ``stream``, ``messages``, ``system``, ``last_user_text``,
``api_key``). ``fake.model_calls`` counts requests to the two model endpoints, so "the
model was never called" is ``assert fake.model_calls == 0``. ``fake.clear()`` empties the
log and the queue. ``fake.wait_for_requests(n, timeout=5)`` waits for n recorded requests.

``FakeModelServer(api_key="sk-...")`` rejects requests without that key (``Authorization:
Bearer`` on the OpenAI path, ``x-api-key`` on the Anthropic path) with 401.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.settings import Settings

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass(frozen=True)
class Reply:
    """How the fake answers one model request. Every field is optional; see the module doc."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    chunks: Sequence[str] | None = None
    body: bytes | str | None = None
    sse: bytes | str | None = None
    delay_first_byte: float = 0.0
    delay_between_chunks: float = 0.0
    stall_after: int | None = None
    close_after: int | None = None
    error_event: str | None = None
    write_size: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # parsed body, or None when it was not JSON
    received_at: float  # time.monotonic()

    @property
    def provider(self) -> str | None:
        return _provider_for(self.path)

    @property
    def stream(self) -> bool:
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.json, dict) and isinstance(self.json.get("messages"), list):
            return self.json["messages"]
        return []

    @property
    def system(self) -> str:
        """The system prompt: Anthropic's top-level ``system``, or OpenAI system messages."""
        if isinstance(self.json, dict) and isinstance(self.json.get("system"), str):
            return self.json["system"]
        return "\n\n".join(
            _content_text(m.get("content")) for m in self.messages if m.get("role") == "system"
        )

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @property
    def api_key(self) -> str:
        bearer = self.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            return bearer[7:]
        return self.headers.get("x-api-key", "")


Responder = Callable[[RecordedRequest], "Reply | str | None"]


def default_text(last_user_text: str) -> str:
    """The answer the fake gives when nothing is scripted."""
    return f"You said: {last_user_text}"


def default_chunks(text: str, words_per_chunk: int = 3) -> list[str]:
    """Split `text` into chunks of a few words (whitespace kept), as a streaming model would."""
    pieces = re.findall(r"\s*\S+\s*|\s+", text)
    chunks = [
        "".join(pieces[i : i + words_per_chunk]) for i in range(0, len(pieces), words_per_chunk)
    ]
    return chunks or [""]


class FakeModelServer:
    """The fake model API; a context manager. See the module docstring."""

    def __init__(self, api_key: str | None = None, model: str = "fake-model") -> None:
        self.api_key = api_key
        self.model = model
        self.responder: Responder | None = None
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._always: Reply | None = None
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-model-server",
            daemon=True,
        )

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled / delayed handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (…/v1); Redline's Anthropic client accepts it too."""
        return f"{self.root_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Anthropic-style base URL (no /v1), like https://api.anthropic.com."""
        return self.root_url

    def settings(self, provider: str = OPENAI, **overrides: Any) -> Settings:
        """Settings pointing at this fake (model "fake-model", a dummy key unless overridden)."""
        values: dict[str, Any] = {
            "llm_provider": provider,
            "llm_base_url": self.base_url if provider == OPENAI else self.anthropic_base_url,
            "llm_model": self.model,
            "llm_api_key": self.api_key or "sk-fake-test-key-0000",
        }
        values.update(overrides)
        return Settings(**values)

    # --- scripting -------------------------------------------------------------------------
    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next model requests, in order."""
        with self._lock:
            self._queue.extend(_as_reply(r) for r in replies)

    def always(self, reply: Reply | str | None) -> None:
        """Answer every unscripted request with `reply` (None: back to the echo default)."""
        with self._lock:
            self._always = None if reply is None else _as_reply(reply)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # --- what was received -----------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.provider is not None]

    @property
    def model_calls(self) -> int:
        return len(self.model_requests)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            requests = self.requests
            if len(requests) >= count:
                return requests
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    # --- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _reply_for(self, request: RecordedRequest) -> Reply:
        if self.responder is not None:
            decided = self.responder(request)
            if decided is not None:
                return _as_reply(decided)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self._always is not None:
                return self._always
        return Reply()

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake when the server stops. True when stopping."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeModelServer) -> None:
        super().__init__(address, handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeouts, closed streams) is normal here, not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real APIs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._record(b"")
        self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = self._record(body)
        provider = request.provider
        if provider is None:
            self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        fake = self.server.fake
        if fake.api_key is not None and request.api_key != fake.api_key:
            self._send_error_body(provider, 401, "authentication_error", "invalid x-api-key")
            return
        if provider == ANTHROPIC and (problem := _anthropic_problem(request)):
            self._send_error_body(provider, 400, "invalid_request_error", problem)
            return
        reply = fake._reply_for(request)
        self._answer(provider, request, reply)

    # --- answering -------------------------------------------------------------------------
    def _record(self, body: bytes) -> RecordedRequest:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
            received_at=time.monotonic(),
        )
        self.server.fake._record(request)
        return request

    def _answer(self, provider: str, request: RecordedRequest, reply: Reply) -> None:
        fake = self.server.fake
        if fake._wait(reply.delay_first_byte):
            return
        if reply.body is not None:
            raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
            ctype = "application/json" if raw[:1] in (b"{", b"[") else "text/html; charset=utf-8"
            self._send_bytes(reply.status, raw, ctype, reply.headers)
            return
        if reply.status >= 400:
            kind = _error_type(reply.status)
            self._send_error_body(provider, reply.status, kind, "scripted", reply.headers)
            return
        text = reply.text if reply.text is not None else None
        if reply.chunks is not None:
            chunks = list(reply.chunks)
        else:
            text = text if text is not None else default_text(request.last_user_text)
            chunks = default_chunks(text)
        if not request.stream and reply.sse is None:
            full = "".join(chunks)
            payload = (
                _openai_completion(fake.model, full)
                if provider == OPENAI
                else _anthropic_message(fake.model, full)
            )
            self._send_json(reply.status, payload, reply.headers)
            return
        self._stream(provider, chunks, reply)

    def _stream(self, provider: str, chunks: list[str], reply: Reply) -> None:
        fake = self.server.fake
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if reply.sse is not None:
            raw = reply.sse.encode() if isinstance(reply.sse, str) else reply.sse
            events: Iterator[tuple[str, bytes]] = iter([("raw", raw)])
        else:
            events = _sse_events(provider, fake.model, chunks, reply.error_event)
        sent = 0
        for kind, data in events:
            if kind == "text":
                if reply.stall_after is not None and sent >= reply.stall_after:
                    fake._wait(3600)  # until the server stops
                    self.close_connection = True
                    return
                if reply.close_after is not None and sent >= reply.close_after:
                    self._drop()
                    return
                if sent and fake._wait(reply.delay_between_chunks):
                    return
                sent += 1
            if not self._write(data, reply if kind in ("text", "raw") else None):
                return
        self._write_chunk(b"")  # end of the chunked body
        self.wfile.flush()

    def _write(self, data: bytes, reply: Reply | None) -> bool:
        split = reply.write_size if reply is not None else None
        size = split or len(data) or 1
        try:
            for i in range(0, len(data), size):
                self._write_chunk(data[i : i + size])
                self.wfile.flush()
                if split and self.server.fake._wait(0.0002):  # let the reader see each piece
                    return False
        except OSError:  # the client went away
            self.close_connection = True
            return False
        return True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _drop(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error_body(
        self,
        provider: str,
        status: int,
        kind: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        if provider == ANTHROPIC:
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": kind, "code": None}}
        self._send_json(status, body, headers)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self._send_bytes(status, raw, "application/json", headers or {})

    def _send_bytes(self, status: int, raw: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


# --- wire formats ----------------------------------------------------------------------------
def _provider_for(path: str) -> str | None:
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return OPENAI
    if path.endswith("/messages"):
        return ANTHROPIC
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def _anthropic_problem(request: RecordedRequest) -> str:
    if not request.headers.get("anthropic-version"):
        return "anthropic-version: header is required"
    if not isinstance(request.json, dict):
        return "body: expected a JSON object"
    for key in ("model", "max_tokens", "messages"):
        if key not in request.json:
            return f"{key}: Field required"
    if any(m.get("role") not in ("user", "assistant") for m in request.messages):
        return "messages: roles must be user or assistant (system goes in the top-level field)"
    return ""


def _error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def _sse_events(
    provider: str, model: str, chunks: list[str], error_event: str | None
) -> Iterator[tuple[str, bytes]]:
    """(kind, bytes) pairs; kind "text" marks a chunk carrying answer text."""
    if provider == OPENAI:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
        base["model"] = model
        first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        yield "meta", _sse(first)
        for chunk in chunks:
            delta = {"index": 0, "delta": {"content": chunk}, "finish_reason": None}
            yield "text", _sse({**base, "choices": [delta]})
        if error_event:
            yield "meta", _sse({"error": {"message": "scripted", "type": error_event}})
            return
        last = {"index": 0, "delta": {}, "finish_reason": "stop"}
        yield "meta", _sse({**base, "choices": [last]})
        yield "meta", _sse("[DONE]")
        return
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    yield "meta", _sse({"type": "message_start", "message": message}, "message_start")
    block = {"type": "content_block_start", "index": 0}
    block["content_block"] = {"type": "text", "text": ""}
    yield "meta", _sse(block, "content_block_start")
    yield "meta", _sse({"type": "ping"}, "ping")
    for chunk in chunks:
        delta = {"type": "content_block_delta", "index": 0}
        delta["delta"] = {"type": "text_delta", "text": chunk}
        yield "text", _sse(delta, "content_block_delta")
    if error_event:
        error = {"type": "error", "error": {"type": error_event, "message": "scripted"}}
        yield "meta", _sse(error, "error")
        return
    yield "meta", _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
    end["usage"] = {"output_tokens": len(chunks)}
    yield "meta", _sse(end, "message_delta")
    yield "meta", _sse({"type": "message_stop"}, "message_stop")


def _openai_completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _anthropic_message(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _as_reply(reply: Reply | str) -> Reply:
    return Reply(text=reply) if isinstance(reply, str) else reply
