"""Block Kit for the review queue: the review card, the deny modal, the requester's notices,
and the "Request review" button on an appealable refusal.

Pure functions from values to payloads. Everything user-written is escaped; the card shows
the store's redacted copy of the request, never the original text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.slack.blocks import (
    SECTION_LIMIT,
    Block,
    Message,
    context,
    escape,
    section,
)
from bot.store import ReviewItem
from bot.types import Request, Verdict

APPROVE_ACTION = "redline_review_approve"
DENY_ACTION = "redline_review_deny"
APPEAL_ACTION = "redline_review_appeal"
DENY_MODAL = "redline_review_deny_modal"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
APPEAL_BLOCK = "redline_appeal"
BUTTON_VALUE_LIMIT = 2000  # Slack's cap on a button's value
CARD_TEXT_LIMIT = 1500  # the request as quoted on a card (redacted); the rest is elided


def _title(category: str | None, titles: Mapping[str, str]) -> str:
    if not category:
        return "no category"
    return f"*{escape(titles.get(category, category))}* (`{escape(category)}`)"


def _quote(text: str, limit: int = CARD_TEXT_LIMIT) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + " …"
    lines = escape(text).splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def review_card(item: ReviewItem, titles: Mapping[str, str] | None = None) -> Message:
    """The card in REDLINE_REVIEW_CHANNEL; buttons only while the item is pending."""
    titles = titles or {}
    appeal = item.summary.startswith("Appeal of a refusal")
    head = ":mag: *Appeal of a refusal*" if appeal else ":mag: *Request held for review*"
    where = f"<#{escape(item.channel)}>" if item.channel and item.channel[0] in "CG" else "a DM"
    blocks: list[Block] = [
        section(
            f"{head}\nFrom <@{escape(item.user)}> in {where} · category "
            f"{_title(item.category, titles)} · profile `{escape(item.profile)}`"
        ),
        section(_quote(item.display_text)[:SECTION_LIMIT]),
    ]
    if item.evidence:
        evidence = " · ".join(escape(e[:200]) for e in item.evidence[:3])
        blocks.append(context(f"evidence: {evidence}"[:SECTION_LIMIT]))
    status = _status_block(item)
    if status is not None:
        blocks.append(status)
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"review:{item.id}",
                "elements": [
                    _button("Approve", APPROVE_ACTION, item.id, "primary"),
                    _button("Deny…", DENY_ACTION, item.id, "danger"),
                ],
            }
        )
        blocks.append(context(f"review `{escape(item.id)}` · expires {_when(item.expires_at)}"))
    text = f"Review {item.status}: {item.category or 'request'} from <@{item.user}>"
    return Message(text=text, blocks=tuple(blocks))


def _status_block(item: ReviewItem) -> Block | None:
    when = _when(item.decided_at)
    if item.status == "approved":
        return section(
            f":white_check_mark: *Approved* by <@{escape(item.decided_by or '?')}> "
            f"{when}. The answer was sent to the requester's thread."
        )
    if item.status == "denied":
        reason = f"\n{_quote(item.reason, 500)}" if item.reason else ""
        return section(
            f":no_entry: *Denied* by <@{escape(item.decided_by or '?')}> {when}.{reason}"
        )
    if item.status == "expired":
        return section(
            f":hourglass: *Expired* {when}: no reviewer decided in time. "
            "The requester was told; the buttons no longer work."
        )
    return None


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def pending_cards(
    items: Sequence[ReviewItem], titles: Mapping[str, str] | None = None, limit: int = 10
) -> list[Block]:
    """Several review cards in one message (`/redline review`, App Home), ≤ 50 blocks."""
    out: list[Block] = []
    for item in items[:limit]:
        out.extend(review_card(item, titles).blocks)
        out.append({"type": "divider"})
    return out


def deny_modal(review_id: str) -> dict[str, Any]:
    """views.open payload: a required reason, sent to the requester."""
    return {
        "type": "modal",
        "callback_id": DENY_MODAL,
        "private_metadata": json.dumps({"review_id": review_id}),
        "title": {"type": "plain_text", "text": "Deny request"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section("The requester sees this reason in their thread."),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    }


def modal_review_id(view: Mapping[str, Any]) -> str:
    try:
        return str(json.loads(view.get("private_metadata") or "{}").get("review_id") or "")
    except (ValueError, AttributeError):
        return ""


def modal_reason(view: Mapping[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(((values.get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}).get("value") or "")


def requester_message(item: ReviewItem, outcome: str, ttl_h: float = 24.0) -> Message:
    """What the requester reads in the original thread."""
    if outcome == "approved":
        text = ":white_check_mark: A reviewer approved this request; the answer follows."
    elif outcome == "denied":
        text = ":no_entry: A reviewer denied this request, so it was not sent to the model."
        if item.reason:
            text += f"\nReason given:\n{_quote(item.reason, 1000)}"
    elif outcome == "expired":
        text = (
            f":hourglass: No reviewer decided on this request within {ttl_h:g} h, so it "
            "was not answered. You can ask again, or ask a Redline admin."
        )
    elif outcome == "appealed":
        text = ":mag: Sent to a reviewer. You will hear back in this thread."
    else:
        text = f"Review update: {escape(outcome)}."
    return Message(
        text=text, blocks=(section(text[:SECTION_LIMIT]), context(f"review `{escape(item.id)}`"))
    )


# --- appeal -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppealRef:
    """What the "Request review" button carries (and gets back from Slack)."""

    request_id: str
    user: str
    channel: str
    thread_ts: str
    team: str
    category: str | None
    profile: str
    text: str | None  # None when the request was too long to carry


def appeal_value(ref: AppealRef) -> str:
    data = {
        "r": ref.request_id,
        "u": ref.user,
        "ch": ref.channel,
        "th": ref.thread_ts,
        "tm": ref.team,
        "c": ref.category,
        "p": ref.profile,
        "t": ref.text,
    }
    value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(value) > BUTTON_VALUE_LIMIT:
        data["t"] = None
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return value


def parse_appeal(value: str) -> AppealRef | None:
    try:
        d = json.loads(value)
        return AppealRef(
            request_id=str(d["r"]),
            user=str(d["u"]),
            channel=str(d["ch"]),
            thread_ts=str(d.get("th") or ""),
            team=str(d.get("tm") or ""),
            category=str(d["c"]) if d.get("c") else None,
            profile=str(d.get("p") or ""),
            text=str(d["t"]) if d.get("t") is not None else None,
        )
    except (ValueError, KeyError, TypeError):
        return None


def appeal_block(ref: AppealRef) -> Block:
    return {
        "type": "actions",
        "block_id": APPEAL_BLOCK,
        "elements": [_button("Request review", APPEAL_ACTION, appeal_value(ref))],
    }


def with_appeal_button(message: Message, verdict: Verdict, request: Request) -> Message:
    """A refusal message plus the "Request review" button: only for a refusal in a
    restricted category (a hard-limit refusal never gets one, whatever the caller says)."""
    if verdict.hard_limit or not verdict.category or verdict.stage == "error":
        return message
    ref = AppealRef(
        request_id=request.request_id,
        user=request.user,
        channel=request.channel,
        thread_ts=request.thread_ts,
        team=request.team,
        category=verdict.category,
        profile=verdict.profile,
        text=request.text,
    )
    return Message(text=message.text, blocks=(*message.blocks, appeal_block(ref)))


def appeal_done(blocks: Sequence[Block], note: str) -> list[Block]:
    """The refusal message after the button was used: button replaced by a note."""
    kept = [b for b in blocks if b.get("block_id") != APPEAL_BLOCK]
    kept.append(context(escape(note)))
    return kept
