"""Slack's agent view (the assistant side panel): suggested prompts when a thread starts;
for each user message, a status while thinking, a thread title, and the answer in the
thread. Uses Bolt's `Assistant` middleware for routing; Web API calls go through the
client directly so they also work inside lazy listeners.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Assistant, BoltContext
from slack_sdk import WebClient

from bot.slack.history import is_own_or_bot
from bot.slack.manifest import SUGGESTED_PROMPTS
from bot.slack.runner import (
    answer,
    first_delivery,
    make_sink,
    read_event_request,
)

log = logging.getLogger(__name__)

GREETING = "Hi! Ask me anything. Every request and answer is checked against the usage policy."


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 80 else line[:79].rstrip() + "…"


def register(app: App, services: Any) -> None:
    assistant = Assistant()

    def ack_started(ack: Ack) -> None:
        ack()

    def start_thread(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not thread_ts or not first_delivery(services, body):
            return
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=GREETING)
            client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                thread_ts=thread_ts,
                prompts=[dict(p) for p in SUGGESTED_PROMPTS],
            )
        except Exception as exc:
            log.warning("assistant thread start failed: %s", type(exc).__name__)

    def ack_user_message(ack: Ack) -> None:
        ack()

    def answer_user_message(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if is_own_or_bot(event, context.bot_user_id, context.bot_id) or not event.get("user"):
            return
        if not first_delivery(services, body):
            return
        channel = str(event.get("channel") or "")
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        sink = make_sink(services, client, channel, thread_ts, assistant=True)
        request = read_event_request(
            services, client, body, event, context, sink, source="assistant"
        )
        if request is None:
            return
        if not request.text:
            return
        if not any(t.role == "user" for t in request.history):  # first question names it
            try:
                client.assistant_threads_setTitle(
                    channel_id=channel, thread_ts=thread_ts, title=_title(request.text)
                )
            except Exception as exc:
                log.info("assistant.threads.setTitle failed: %s", type(exc).__name__)
        answer(services, request, sink)

    # Decorator form: a positional function would make Bolt ignore `lazy`.
    assistant.thread_started(lazy=[start_thread])(ack_started)
    assistant.user_message(lazy=[answer_user_message])(ack_user_message)
    app.use(assistant)
