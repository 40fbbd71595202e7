"""What every Slack handler does after the ack: build the sink, run the ask flow, and
make sure the user hears back even when something breaks.

A listener must never raise: Bolt turns an exception after `ack()` into a bad HTTP answer
(a 404 after 3 s for commands), and Slack then retries. So errors are caught here,
logged without secrets, and reported in the thread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

from bot.slack.dedupe import durable_claims, event_key
from bot.slack.history import fetch_thread_history, reply_thread_ts, strip_mention
from bot.slack.reply import SlackReplySink, redact
from bot.types import Request, Source

log = logging.getLogger(__name__)

FAILURE_TEXT = "Sorry, something went wrong while answering. Please try again in a moment."


def category_titles(services: Any) -> dict[str, str]:
    """Category id → title from the loaded policy (empty if the engine has none)."""
    policy = getattr(getattr(services, "engine", None), "policy", None)
    titles: dict[str, str] = {}
    for category in getattr(policy, "categories", ()) or ():
        cid = getattr(category, "id", None)
        if cid:
            titles[str(cid)] = str(getattr(category, "title", "") or cid)
    return titles


def secrets_of(services: Any) -> tuple[str, ...]:
    settings = getattr(services, "settings", None)
    return tuple(settings.secrets()) if settings is not None else ()


def make_sink(
    services: Any, client: WebClient, channel: str, thread_ts: str, *, assistant: bool = False
) -> SlackReplySink:
    return SlackReplySink(
        client,
        channel,
        thread_ts,
        assistant=assistant,
        titles=category_titles(services),
        secrets=secrets_of(services),
    )


def is_admin(services: Any, user: str) -> bool:
    settings = getattr(services, "settings", None)
    return bool(settings is not None and user in getattr(settings, "admins", ()))


def event_request(
    services: Any,
    client: WebClient,
    body: Mapping[str, Any],
    event: Mapping[str, Any],
    *,
    source: Source,
    bot_user_id: str | None,
    bot_id: str | None,
) -> Request:
    """A message-like event (mention, DM, agent view) as a transport-free Request."""
    channel = str(event.get("channel") or "")
    user = str(event.get("user") or "")
    ts = str(event.get("ts") or "")
    thread_ts = reply_thread_ts(dict(event))
    history = ()
    if event.get("thread_ts") and event.get("thread_ts") != ts:
        history = fetch_thread_history(
            client,
            channel,
            str(event["thread_ts"]),
            exclude_ts=ts,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
        )
    return Request(
        text=strip_mention(str(event.get("text") or ""), bot_user_id),
        user=user,
        channel=channel,
        team=str(body.get("team_id") or event.get("team") or ""),
        history=history,
        source=source,
        request_id=str(body.get("event_id") or f"{channel}:{ts}"),
        thread_ts=thread_ts,
        user_is_admin=is_admin(services, user),
        extra={"ts": ts},
    )


def read_event_request(
    services: Any,
    client: WebClient,
    body: Mapping[str, Any],
    event: Mapping[str, Any],
    context: Any,
    sink: SlackReplySink,
    *,
    source: Source,
) -> Request | None:
    """`event_request` for a listener: on failure (e.g. the thread history cannot be read)
    the thread is told and None comes back, so the listener just returns."""
    try:
        return event_request(
            services, client, body, event, source=source,
            bot_user_id=context.bot_user_id, bot_id=context.bot_id,
        )
    except Exception as exc:
        log.error("could not read the %s event: %s", source, type(exc).__name__)
        report_failure(sink, UNREADABLE_TEXT)
        return None


def first_delivery(services: Any, body: Mapping[str, Any]) -> bool:
    """After the ack: False if another process (a replica, or this app before a restart)
    already claimed this event. Call before any Slack side effect."""
    key = event_key(dict(body))
    claims = durable_claims(services)
    if key is None or claims is None:
        return True
    if claims.claim(key):
        return True
    log.info("event %s already handled elsewhere: dropped", key)
    return False


UNREADABLE_TEXT = "Sorry, I could not read that message."


def new_request_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def answer(services: Any, request: Request, sink: SlackReplySink) -> None:
    """Run the ask flow; never raise. On an unexpected error the thread gets a message."""
    sink.request = request
    try:
        services.ask.handle(request, sink)
    except Exception as exc:
        log.error(
            "ask flow failed for request %s: %s: %s",
            request.request_id,
            type(exc).__name__,
            redact(str(exc), secrets_of(services))[:300],
        )
        report_failure(sink, FAILURE_TEXT)


def report_failure(sink: SlackReplySink, text: str) -> None:
    try:
        sink.failed(text)
    except Exception as exc:  # Slack itself is failing: logging is all that is left
        log.error("could not report failure in Slack: %s", type(exc).__name__)
