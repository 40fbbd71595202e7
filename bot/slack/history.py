"""Thread context: the earlier turns of a Slack thread, as transport-free `Turn`s.

The ask flow applies the character budget (oldest dropped first); here we only fetch,
label roles (our bot's messages are the assistant, everyone else is the user) and drop
the triggering message itself.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.types import Turn

log = logging.getLogger(__name__)

# Status lines the bot posts while working are not conversation.
_NOT_TURNS = {"…", ""}


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove the `<@BOT>` mention(s) that address the bot; keep other mentions."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def is_own_or_bot(message: dict[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    """True for anything a bot wrote: ours (loops) or another bot's."""
    if message.get("bot_id") or message.get("subtype") == "bot_message":
        return True
    if bot_id and message.get("bot_profile", {}).get("id") == bot_id:
        return True
    return bool(bot_user_id) and message.get("user") == bot_user_id


def reply_thread_ts(event: dict[str, Any]) -> str:
    """Replies always land in a thread: the parent's thread, else the message's own."""
    return str(event.get("thread_ts") or event.get("ts") or "")


def fetch_thread_history(
    client: WebClient,
    channel: str,
    thread_ts: str,
    *,
    exclude_ts: str,
    bot_user_id: str | None,
    bot_id: str | None = None,
    max_messages: int = 400,
) -> tuple[Turn, ...]:
    """Earlier turns of the thread, oldest first. A failed fetch gives no history (the
    question is still answered, just without context) rather than no answer."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        while len(messages) < max_messages:
            kwargs: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            resp = client.conversations_replies(**kwargs)
            messages.extend(resp.get("messages") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not resp.get("has_more", bool(cursor)):
                break
    except SlackApiError as exc:
        log.warning("conversations.replies failed: %s", exc.response.get("error"))
        return ()
    except Exception as exc:  # network trouble: answer without context
        log.warning("conversations.replies failed: %s", type(exc).__name__)
        return ()

    turns: list[Turn] = []
    trigger = _ts(exclude_ts)
    for message in sorted(messages, key=lambda m: _ts(m.get("ts"))):
        # Only what came before the triggering message (it is the question itself).
        if message.get("ts") == exclude_ts or (trigger and _ts(message.get("ts")) >= trigger):
            continue
        ours = bool(bot_user_id) and message.get("user") == bot_user_id
        if not ours and bot_id and message.get("bot_id") == bot_id:
            ours = True
        text = str(message.get("text") or "")
        if ours:
            if text.strip() in _NOT_TURNS:
                continue
            turns.append(Turn(role="assistant", text=text))
        elif message.get("subtype") in (None, "thread_broadcast", "file_share"):
            text = strip_mention(text, bot_user_id)
            if text:
                turns.append(Turn(role="user", text=text))
    return tuple(turns)


def _ts(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
