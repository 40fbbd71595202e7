"""`redline serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP under waitress.

HTTP routes (one WSGI app, `make_wsgi_app`):
- `POST /slack/events`: events, slash commands and interactivity (Bolt's single path).
  The body is read here with a hard size limit (413), checked to parse the way Bolt will
  parse it (400 with a clear text, never a 5xx), then handed to Bolt, whose
  RequestVerification answers 401 to a bad signature or a stale timestamp.
- `GET /healthz`: JSON `{"ok": true, ...}`.

Bolt's own `app.start()` is a development server (single-threaded); waitress is a
threaded production server with bounded request sizes.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.answer_workers import AnswerWorkers, Delivery, start_answer_workers
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
_READ_CHUNK = 64 * 1024
CONNECTION_LIMIT = 1000

StartResponse = Callable[..., Any]


class BadRequest(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EventDispatcher:
    """Events API deliveries are acked as soon as their signature checks out; Bolt's
    dispatch (middleware, dedupe, listener matching, starting the lazy listener: ~4 ms
    of CPU each) runs on a small pool after the HTTP answer has gone.

    Slack needs nothing in an event's ack but a 200, so this only moves work off the ack
    path; slash commands and interactivity, whose ack carries the reply, still go
    through Bolt on the request thread. Bolt verifies the signature again before it
    runs a listener. A full backlog answers 503, so Slack retries later: nothing lost.
    """

    def __init__(
        self,
        app: App,
        signing_secret: str,
        workers: int = 1,
        max_pending: int = 1000,
        answer_workers: AnswerWorkers | None = None,
    ) -> None:
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="redline-events")
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        # With answer processes, the whole dispatch happens there: nothing runs here.
        self._answer_workers = answer_workers

    def verified(self, raw: str, headers: dict[str, str]) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not signature:
            return False
        return self._verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)

    def submit(self, raw: str, query: str, headers: dict[str, str]) -> bool:
        if self._answer_workers is not None:
            return self._answer_workers.submit(Delivery(raw, query, headers))
        with self._lock:
            if self._pending >= self._max_pending:
                return False
            self._pending += 1
        self._pool.submit(self._dispatch, raw, query, headers)
        return True

    def _dispatch(self, raw: str, query: str, headers: dict[str, str]) -> None:
        try:
            response = self._app.dispatch(BoltRequest(body=raw, query=query, headers=headers))
            if response.status >= 400:
                log.warning("event dispatch answered %s", response.status)
        except Exception as exc:
            log.error("event dispatch failed: %s", type(exc).__name__)
        finally:
            with self._lock:
                self._pending -= 1


def make_wsgi_app(
    app: App,
    settings: Settings,
    health: Callable[[], dict[str, Any]] | None = None,
    answer_workers: AnswerWorkers | None = None,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application served by waitress (and by the tests and the benchmark)."""
    started = time.time()
    limit = settings.max_body_bytes
    events = EventDispatcher(
        app, settings.slack_signing_secret, answer_workers=answer_workers
    )

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        try:
            if path == HEALTH_PATH and method in ("GET", "HEAD"):
                info: dict[str, Any] = {"ok": True, "uptime_s": round(time.time() - started, 1)}
                info["mode"] = "socket" if settings.socket_mode else "http"
                if health is not None:
                    info.update(health())
                return _respond(start_response, "200 OK", json.dumps(info), "application/json")
            if path != EVENTS_PATH:
                return _respond(start_response, "404 Not Found", "Not found\n")
            if method != "POST":
                return _respond(
                    start_response,
                    "405 Method Not Allowed",
                    "Use POST\n",
                    extra=[("Allow", "POST")],
                )
            raw = _read_body(environ, limit)
            headers = _headers(environ)
            parsed = _check_parses(raw, headers.get("content-type", ""))
            stamp = headers.get("x-slack-request-timestamp")
            if stamp is not None and not stamp.isdigit():  # Bolt would int() it: a 500
                return _respond(
                    start_response,
                    "401 Unauthorized",
                    '{"error": "invalid request"}',
                    "application/json",
                )
            if parsed.get("type") == "event_callback":
                if not events.verified(raw, headers):
                    return _respond(
                        start_response,
                        "401 Unauthorized",
                        '{"error": "invalid request"}',
                        "application/json",
                    )
                if not events.submit(raw, environ.get("QUERY_STRING", ""), headers):
                    log.warning("event backlog full: 503, Slack will retry")
                    return _respond(start_response, "503 Service Unavailable", "Busy\n")
                return _respond(start_response, "200 OK", "")
            try:
                bolt_request = BoltRequest(
                    body=raw, query=environ.get("QUERY_STRING", ""), headers=headers
                )
            except Exception:  # a JSON object of the wrong shape: Bolt cannot read it
                raise BadRequest("400 Bad Request", "Malformed Slack payload") from None
            response = app.dispatch(bolt_request)
        except BadRequest as exc:
            return _respond(start_response, exc.status, exc.message + "\n")
        except Exception as exc:  # a bug must not take the worker down or leak a traceback
            log.error("request failed: %s", type(exc).__name__)
            return _respond(start_response, "500 Internal Server Error", "Internal error\n")
        out_headers = [
            (k, v)
            for k, values in response.headers.items()
            for v in values
            if k.lower() != "content-length"
        ]
        body = (response.body or "").encode("utf-8")
        out_headers.append(("Content-Length", str(len(body))))
        start_response(_status(response.status), out_headers)
        return [body]

    return wsgi


def _read_body(environ: dict[str, Any], limit: int) -> str:
    raw_length = environ.get("CONTENT_LENGTH") or ""
    if raw_length:
        try:
            length = int(raw_length)
        except ValueError:
            raise BadRequest("400 Bad Request", "Invalid Content-Length") from None
        if length > limit:
            raise BadRequest("413 Request Entity Too Large", f"Body over {limit} bytes")
    stream = environ.get("wsgi.input")
    data = bytearray()
    if stream is not None:
        # Read in chunks, to the limit + 1, whatever Content-Length claimed.
        while len(data) <= limit:
            chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(data)))
            if not chunk:
                break
            data.extend(chunk)
    if len(data) > limit:
        raise BadRequest("413 Request Entity Too Large", f"Body over {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("400 Bad Request", "Body is not valid UTF-8") from None


def _check_parses(raw: str, content_type: str) -> dict[str, Any]:
    """Reject, with a 400, any body Bolt's parser or middleware would choke on (they
    would raise: a 500). Parses exactly the way Bolt does, then checks the shape."""
    if not raw.strip():
        raise BadRequest("400 Bad Request", "Empty body")
    ctype = content_type.split(";")[0].strip().lower()
    interactive = False
    try:
        if ctype == "application/json" or raw.startswith("{"):
            parsed: Any = json.loads(raw)
        else:
            params = dict(parse_qsl(raw, keep_blank_values=True))
            if not params:
                raise BadRequest("400 Bad Request", "Body is neither JSON nor a form")
            interactive = "payload" in raw and "payload" in params
            parsed = json.loads(params["payload"]) if interactive else params
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest("400 Bad Request", "Malformed body: nested too deeply") from None
    except (ValueError, KeyError):
        raise BadRequest(
            "400 Bad Request", "Malformed body: expected JSON or a Slack form"
        ) from None
    if not isinstance(parsed, dict):
        raise BadRequest("400 Bad Request", "Malformed body: expected a JSON object")
    problem = _shape_problem(parsed, interactive)
    if problem:
        raise BadRequest("400 Bad Request", f"Malformed Slack payload: {problem}")
    return parsed


def _shape_problem(body: dict[str, Any], interactive: bool) -> str:
    """What Bolt's middleware reads with `.get()` / `[...]` must have the type it expects."""
    if not isinstance(body.get("type", ""), str):
        return "'type' is not a string"
    for key in ("team", "channel", "enterprise", "container"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"bad {key!r}"
    for key in ("view", "message"):  # Bolt calls .get() on these
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            return f"bad {key!r}"
    for key in ("team_id", "api_app_id", "event_id", "user_id", "channel_id", "command"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            return f"{key!r} is not a string"
    if "authorizations" in body and not isinstance(body["authorizations"], list | type(None)):
        return "'authorizations' is not a list"
    if isinstance(body.get("authorizations"), list) and not all(
        isinstance(a, dict) for a in body["authorizations"]
    ):
        return "'authorizations' holds a non-object"
    if body.get("type") == "event_callback" or "event" in body:
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "'event' is not an object with a string 'type'"
        for key in ("user", "channel", "ts", "thread_ts", "text", "bot_id", "subtype"):
            if event.get(key) is not None and not isinstance(event[key], str | dict):
                return f"event {key!r} has the wrong type"
    user = body.get("user")
    if interactive:
        if not body.get("type"):
            return "interactive payload without a 'type'"
        if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), str)):
            return "'user' is not an object with an 'id'"
        actions = body.get("actions")
        if actions is not None and not (
            isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
        ):
            return "'actions' is not a list of objects"
    elif user is not None and not isinstance(user, dict | str):
        return "bad 'user'"
    return ""


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers[key.lower().replace("_", "-")] = value
        elif key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = value
    return headers


def _status(code: int) -> str:
    from http import HTTPStatus

    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Status"


def _respond(
    start_response: StartResponse,
    status: str,
    body: str,
    content_type: str = "text/plain; charset=utf-8",
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    data = body.encode("utf-8")
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    start_response(status, headers + (extra or []))
    return [data]


# --- `redline serve` ---------------------------------------------------------------------


def require_slack_settings(settings: Settings) -> None:
    """Name the first missing variable for the chosen transport."""
    if not settings.slack_bot_token:
        raise SettingsError("SLACK_BOT_TOKEN", "required to run the Slack app (xoxb-…)")
    if not settings.socket_mode and not settings.slack_signing_secret:
        raise SettingsError(
            "SLACK_SIGNING_SECRET",
            "required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)",
        )


def verify_token(app: App) -> dict[str, Any]:
    """auth.test at start: a wrong token is a one-line configuration error, not a traceback."""
    from slack_sdk.errors import SlackApiError

    try:
        return dict(app.client.auth_test().data)  # type: ignore[arg-type]
    except SlackApiError as exc:
        raise SettingsError(
            "SLACK_BOT_TOKEN", f"Slack rejected the token ({exc.response.get('error')})"
        ) from None
    except Exception as exc:
        raise SettingsError(
            "SLACK_API_URL", f"cannot reach Slack at {app.client.base_url} ({type(exc).__name__})"
        ) from None


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    require_slack_settings(settings)
    from bot.app import build_counted_app
    from bot.health import HealthCheck
    from bot.logs import configure_logging
    from bot.services import build_services

    configure_logging(settings)  # secrets and token shapes scrubbed from every logger
    # SIGTERM (a deploy, a scale-down) unwinds like Ctrl-C: answer processes and the
    # review sweeper are stopped and the store closed by the `finally` below.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Hand the GIL over more often (default 5 ms): the request threads that ack Slack
    # wait less behind CPU-bound policy checks running in the workers.
    sys.setswitchinterval(0.001)
    services = build_services(settings)
    sweeper = None
    workers: AnswerWorkers | None = None
    try:
        metrics = services.metrics
        app = build_counted_app(settings, services)
        if services.reviews is not None and services.store is not None:
            from bot.review import ReviewSweeper

            # After build_app: that is what connects the review service to Slack.
            sweeper = ReviewSweeper(services.reviews, services.store).start()
        identity = verify_token(app)
        log.info("connected to Slack team %s as %s", identity.get("team"), identity.get("user"))
        workers = start_answer_workers(app, settings, metrics)
        # The policy engine, lexicons and app live as long as the process: keep them out
        # of the cyclic GC, whose full pass over them (~50 ms, GIL held) stalls every ack.
        gc.freeze()
        if settings.socket_mode:
            log.info("Socket Mode: connecting (no public URL needed)")
            socket_mode_handler(app, settings).start()  # blocks until interrupted
            return 0
        health = HealthCheck.from_services(services, answer_workers=workers)
        serve_http(app, settings, health=health.report, metrics=metrics, answer_workers=workers)
        return 0
    finally:
        if workers is not None:
            workers.stop()
        if sweeper is not None:
            sweeper.stop()
        close = getattr(services, "close", None)
        if callable(close):
            close()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def socket_mode_handler(app: App, settings: Settings) -> Any:
    """Bolt's Socket Mode adapter on slack_sdk's built-in WebSocket client. The app's own
    client (SLACK_API_URL, retries) opens the connection with the app-level token."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(
        app, settings.slack_app_token, web_client=app.client, concurrency=settings.http_threads
    )


def create_http_server(
    app: App,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
    metrics: Any = None,
    answer_workers: AnswerWorkers | None = None,
) -> Any:
    """The waitress server `redline serve` runs (tests and the benchmark use it too).
    With `metrics` (a `bot.metrics.Metrics`), `/metrics` is served and every answer is
    counted and timed."""
    from waitress.server import create_server

    wsgi = make_wsgi_app(app, settings, health=health, answer_workers=answer_workers)
    if metrics is not None:
        from bot.metrics import instrument_wsgi

        wsgi = instrument_wsgi(wsgi, metrics)
    return create_server(
        wsgi,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        threads=settings.http_threads,
        # waitress enforces the same limit on the wire (chunked bodies included).
        max_request_body_size=settings.max_body_bytes,
        ident="redline",
        # waitress stops accepting new connections at 100 open ones (its default); a load
        # balancer pooling connections for a burst of Slack deliveries can hold more.
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,  # select() is limited to 1,024 descriptors
    )


def serve_http(
    app: App,
    settings: Settings,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
    metrics: Any = None,
    answer_workers: AnswerWorkers | None = None,
) -> None:
    server = create_http_server(
        app, settings, health=health, metrics=metrics, answer_workers=answer_workers
    )
    log.info("HTTP mode: listening on %s:%s%s", settings.host, settings.port, EVENTS_PATH)
    try:
        server.run()
    finally:
        server.close()
