"""`/ask <question>`: post the question visibly, attributed to the user, then answer in
its thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.runner import answer, is_admin, make_sink, new_request_id
from bot.types import Request

log = logging.getLogger(__name__)


def register(app: App, services: Any) -> None:
    def ack_ask(ack: Ack, command: dict[str, Any]) -> None:
        if not str(command.get("text") or "").strip():
            ack(**blocks.usage_message("/ask", "<question>").payload())
        else:
            ack()

    def answer_ask(command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question = str(command.get("text") or "").strip()
        if not question:
            return
        channel = str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        try:
            posted = client.chat_postMessage(
                channel=channel,
                unfurl_links=False,
                unfurl_media=False,
                **blocks.question_message(user, question).payload(),
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("/ask could not post the question: %s", error)
            _tell(respond, _post_failure_text(str(error)))
            return
        except Exception as exc:
            log.warning("/ask could not post the question: %s", type(exc).__name__)
            _tell(respond, "Sorry, I could not post in this channel right now. Please try again.")
            return
        thread_ts = str(posted.get("ts") or "")
        request = Request(
            text=question,
            user=user,
            channel=channel,
            team=str(command.get("team_id") or ""),
            source="slash",
            request_id=new_request_id("ask"),
            thread_ts=thread_ts,
            user_is_admin=is_admin(services, user),
            extra={"ts": thread_ts, "command": "/ask"},
        )
        answer(services, request, make_sink(services, client, channel, thread_ts))

    app.command("/ask")(ack=ack_ask, lazy=[answer_ask])


def _post_failure_text(error: str) -> str:
    if error in ("not_in_channel", "channel_not_found"):
        return (
            "I can't post in this channel. Invite me first (`/invite @Redline`), "
            "or send me a direct message."
        )
    return f"Sorry, I could not post your question here (Slack said `{error}`)."


def _tell(respond: Respond, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:
        log.warning("could not reach response_url: %s", type(exc).__name__)
