"""Direct messages (`message.im`): answer in the message's thread.

Every other message event (edits, deletions, bot posts, channel messages) is acked and
dropped here, so Slack never sees a 404 and never retries it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.history import is_own_or_bot, reply_thread_ts
from bot.slack.runner import (
    answer,
    first_delivery,
    make_sink,
    read_event_request,
)

log = logging.getLogger(__name__)

# Subtypes that are a person writing something new.
_USER_SUBTYPES = (None, "file_share", "thread_broadcast")


def is_user_dm(event: dict[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in _USER_SUBTYPES
        and not is_own_or_bot(event, bot_user_id, bot_id)
        and bool(event.get("user"))
    )


def register(app: App, services: Any) -> None:
    def ack_message(ack: Ack) -> None:
        ack()

    def answer_dm(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if not is_user_dm(event, context.bot_user_id, context.bot_id):
            return
        if not first_delivery(services, body):
            return
        channel = str(event.get("channel") or "")
        sink = make_sink(services, client, channel, reply_thread_ts(event))
        request = read_event_request(
            services, client, body, event, context, sink, source="dm"
        )
        if request is None:
            return
        if not request.text:
            return  # e.g. a file with no text: nothing to answer
        answer(services, request, sink)

    app.event("message")(ack=ack_message, lazy=[answer_dm])
