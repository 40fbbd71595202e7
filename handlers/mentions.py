"""`@Redline …` in a channel: answer in the thread (the parent's, else the mention's own)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.history import is_own_or_bot, reply_thread_ts
from bot.slack.runner import answer, first_delivery, make_sink, read_event_request

log = logging.getLogger(__name__)


def register(app: App, services: Any) -> None:
    def ack_mention(ack: Ack) -> None:
        ack()

    def answer_mention(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if is_own_or_bot(event, context.bot_user_id, context.bot_id):
            return  # never answer ourselves or another bot: no loops
        if not first_delivery(services, body):
            return
        channel = str(event.get("channel") or "")
        sink = make_sink(services, client, channel, reply_thread_ts(event))
        request = read_event_request(
            services, client, body, event, context, sink, source="mention"
        )
        if request is None:
            return
        if not request.text:
            sink.failed("Ask me something after the mention, e.g. `@Redline what is RAG?`")
            return
        answer(services, request, sink)

    app.event("app_mention")(ack=ack_mention, lazy=[answer_mention])
