"""Build the Bolt app from Settings and Services, and register the handlers.

Ack path: `process_before_response=True` makes Bolt run each listener's ack function on
the request thread and answer the HTTP request as soon as it returns; the real work
(policy engine, model, Slack posts) runs in lazy listeners on a dedicated pool. With
Bolt's default (`False`) the ack itself is queued on the same 5-thread pool as the lazy
work, so 50 concurrent model calls would delay acks past Slack's 3 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings
from bot.slack.dedupe import EventClaims, MemoryEventClaims, event_key

log = logging.getLogger(__name__)

SLACK_TIMEOUT_S = 15


class GatewayErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's server-error handler retries only 500 and 503; Slack's edge also
    answers 502 and 504 when a backend hiccups, and those are just as transient."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        return response is not None and response.status_code in (500, 502, 503, 504)


def build_client(settings: Settings) -> WebClient:
    """The Web API client: Slack's base URL from settings; retries bounded.

    slack_sdk retries nothing by default. 429 waits `Retry-After` (up to 3 times),
    5xx and connection errors are retried twice, so a Slack hiccup delays an answer
    rather than losing it.
    """
    return WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_S,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            GatewayErrorRetryHandler(max_retry_count=2),
        ],
    )


def listener_workers(settings: Settings) -> int:
    """Lazy listeners mostly wait on the model and Slack: size the pool for concurrency."""
    return max(32, settings.http_threads * 2)


def build_app(
    settings: Settings,
    services: Any,
    client: WebClient | None = None,
    claims: EventClaims | None = None,
) -> App:
    """The Bolt app with every Redline listener registered.

    `claims` dedupes Events API deliveries on the ack path (default: in-memory TTL set);
    the listeners also check the store's durable claims after the ack
    (`bot.slack.runner.first_delivery`).
    """
    from handlers import register  # handlers import bot.slack; keep bot.app importable alone

    web = client or build_client(settings)
    app = App(
        token=None,  # the client carries the token
        signing_secret=settings.slack_signing_secret,
        client=web,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(
            max_workers=listener_workers(settings), thread_name_prefix="redline-worker"
        ),
        # Checked at start by `redline serve` with a clear error; tests build apps freely.
        token_verification_enabled=False,
        # Our own posts come back as message events: drop them before any listener.
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("slack_bolt"),
    )
    app.use(dedupe_middleware(claims or MemoryEventClaims()))
    register(app, services)
    return app


def build_counted_app(settings: Settings, services: Any) -> App:
    """The app as `redline serve` and its answer processes run it: its client counts
    Slack Web API failures into `services.metrics` (first in the retry chain, never
    retrying itself)."""
    from bot.metrics import SlackErrorCounter

    client = build_client(settings)
    client.retry_handlers.insert(0, SlackErrorCounter(services.metrics))
    return build_app(settings, services, client=client)


def dedupe_middleware(
    claims: EventClaims,
) -> Callable[..., BoltResponse | None]:
    """Ack a second delivery of the same event (a Slack retry) without processing it."""

    def dedupe_events(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        key = event_key(req.body)
        if key and not claims.claim(key):
            retry = (req.headers.get("x-slack-retry-num") or ["0"])[0]
            log.info("duplicate delivery of %s (retry %s): acked, not processed", key, retry)
            return BoltResponse(status=200, body="")
        return next()

    return dedupe_events
