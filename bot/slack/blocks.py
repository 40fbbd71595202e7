"""Block Kit renderers: pure functions from plain values to Slack message payloads.

Everything user- or model-written is escaped (`&`, `<`, `>`) before it goes into mrkdwn,
so a model answer can never ping `<!channel>` or forge a user mention. Long text is split
into section blocks, never truncated: Slack caps a section at 3,000 characters, a message
at 50 blocks, and the plain `text` fallback at 40,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.types import Verdict

SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 50
TEXT_LIMIT = 40_000
PLACEHOLDER = "…"

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One Slack message: fallback `text` plus its `blocks`."""

    text: str
    blocks: tuple[Block, ...] = field(default=())

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def slack_len(text: str) -> int:
    """Length as Slack's limits count it (UTF-16 code units: an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


def markdown_to_mrkdwn(text: str) -> str:
    """Escape, then map the common Markdown a model writes onto Slack's mrkdwn."""
    out = escape(text)
    out = _HEADING.sub(r"*\1*", out)
    out = _BOLD.sub(r"*\1*", out)
    return _LINK.sub(r"<\2|\1>", out)


def _cut_point(text: str, limit: int) -> int:
    """Index (in code points) of the best place to split `text` so the head fits `limit`."""
    # Largest prefix that fits, counting UTF-16 units.
    units = 0
    hard = len(text)
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            hard = i
            break
    if hard >= len(text):
        return len(text)
    window = text[:hard]
    for sep in ("\n\n", "\n", ". ", " "):
        pos = window.rfind(sep)
        if pos > hard // 2:
            return pos + len(sep)
    # No good boundary: hard cut, but never inside an HTML entity like "&amp;".
    amp = window.rfind("&", max(0, hard - 6))
    if amp > 0 and ";" not in window[amp:]:
        return amp
    return hard


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split into pieces of at most `limit` (Slack-counted) characters; joined they give
    back `text` exactly."""
    pieces: list[str] = []
    rest = text
    while rest:
        cut = max(1, _cut_point(rest, limit))  # always progress, even with a tiny limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def answer_messages(text: str) -> list[Message]:
    """The whole answer as one or more messages (same thread), split, never truncated.

    Each message holds at most 50 sections and at most 40,000 characters in all, so its
    fallback `text` can be the message's whole content.
    """
    body = markdown_to_mrkdwn(text.strip()) or "_(the model returned an empty answer)_"
    messages: list[Message] = []
    current: list[str] = []
    size = 0
    for piece in split_text(body):
        n = slack_len(piece)
        if current and (len(current) >= BLOCKS_PER_MESSAGE or size + n > TEXT_LIMIT):
            messages.append(_sections_message(current))
            current, size = [], 0
        current.append(piece)
        size += n
    if current:
        messages.append(_sections_message(current))
    return messages


def _sections_message(pieces: Sequence[str]) -> Message:
    blocks = tuple(section(p) for p in pieces if p.strip())
    return Message(text="".join(pieces), blocks=blocks or (section(" "),))


def streaming_message(visible_text: str) -> Message:
    """A partial answer while it streams: the tail of the guarded text, marked as live."""
    body = markdown_to_mrkdwn(visible_text)
    pieces = split_text(body) or [PLACEHOLDER]
    # While streaming, one message shows the text; later pieces join it at `finished`.
    shown = pieces[: BLOCKS_PER_MESSAGE - 1]
    total = 0
    kept: list[str] = []
    for p in shown:
        if total + slack_len(p) > TEXT_LIMIT - 100:
            break
        kept.append(p)
        total += slack_len(p)
    blocks = [section(p) for p in kept if p.strip()]
    blocks.append(context(":hourglass_flowing_sand: writing…"))
    return Message(text="".join(kept) or PLACEHOLDER, blocks=tuple(blocks))


def placeholder_message() -> Message:
    return Message(text=PLACEHOLDER, blocks=(context(":hourglass_flowing_sand: thinking…"),))


def _category_label(verdict: Verdict, titles: Mapping[str, str]) -> str:
    if not verdict.category:
        return "this policy"
    title = titles.get(verdict.category, verdict.category.replace("_", " ").capitalize())
    return f"*{escape(title)}* (`{escape(verdict.category)}`)"


def _quote(text: str) -> str:
    lines = escape(text.strip()).splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines)


def refusal_message(
    verdict: Verdict, appealable: bool = False, titles: Mapping[str, str] | None = None
) -> Message:
    """A refusal names the category and quotes the policy's short reason."""
    label = _category_label(verdict, titles or {})
    what = "answer" if verdict.kind == "response" else "request"
    head = f":no_entry: I can't help with this {what}: it falls under {label}"
    if verdict.hard_limit:
        head += ", a hard limit of this workspace's usage policy that no setting relaxes."
    else:
        head += f" under the `{escape(verdict.profile)}` profile of the usage policy."
    reason = verdict.reason.strip() or "This is outside the usage policy."
    blocks: list[Block] = [section(head), section(_quote(reason)[:SECTION_LIMIT])]
    footer = f"policy {escape(verdict.policy_version[:12])}"
    if appealable:
        footer += " · if you think this is a mistake, you can request a human review"
    blocks.append(context(footer))
    plain = f"I can't help with this {what} ({verdict.category or 'policy'}): {reason}"
    return Message(text=plain[:TEXT_LIMIT], blocks=tuple(blocks))


def held_message(
    verdict: Verdict, review_id: str, titles: Mapping[str, str] | None = None
) -> Message:
    label = _category_label(verdict, titles or {})
    head = (
        f":hourglass: This request is *held for human review*: it falls under {label}, "
        f"which the `{escape(verdict.profile)}` profile sends to a reviewer. "
        "You will get the answer in this thread if it is approved."
    )
    blocks: list[Block] = [section(head)]
    if verdict.reason.strip():
        blocks.append(section(_quote(verdict.reason)[:SECTION_LIMIT]))
    blocks.append(context(f"review {escape(review_id)}"))
    return Message(
        text=f"Held for human review ({verdict.category or 'policy'}), review {review_id}",
        blocks=tuple(blocks),
    )


def failure_message(message: str) -> Message:
    text = f":warning: {escape(message.strip() or 'Something went wrong.')}"
    pieces = split_text(text)
    return Message(text=text[:TEXT_LIMIT], blocks=tuple(section(p) for p in pieces[:3]))


def question_message(user: str, question: str) -> Message:
    """The /ask question posted visibly, attributed to who asked it."""
    head = f"<@{user}> asked:"
    body = _quote(question)
    pieces = split_text(body)
    messages_blocks = [section(head), *(section(p) for p in pieces[: BLOCKS_PER_MESSAGE - 1])]
    text = f"<@{user}> asked: {escape(question)}"
    if slack_len(text) > TEXT_LIMIT:
        text = f"<@{user}> asked a question (see below)."
    return Message(text=text, blocks=tuple(messages_blocks))


def check_message(verdict: Verdict, titles: Mapping[str, str] | None = None) -> Message:
    """`/redline check`: decision word, category and reason, privately."""
    cat = verdict.category or "none"
    title = (titles or {}).get(cat, "")
    lines = [
        f"*Decision:* `{verdict.decision}`",
        f"*Category:* `{escape(cat)}`" + (f" ({escape(title)})" if title else ""),
        f"*Profile:* `{escape(verdict.profile)}`" + (" · hard limit" if verdict.hard_limit else ""),
    ]
    if verdict.reason.strip():
        lines.append(f"*Reason:* {escape(verdict.reason.strip())}")
    footer = (
        f"stage {escape(verdict.stage)} · score {verdict.score:.2f}"
        f" · policy {escape(verdict.policy_version[:12])}"
    )
    reason = f" — {verdict.reason.strip()}" if verdict.reason.strip() else ""
    return Message(
        text=f"{verdict.decision} · {cat}{reason}"[:TEXT_LIMIT],
        blocks=(section("\n".join(lines)[:SECTION_LIMIT]), context(footer)),
    )


HELP_TEXT = (
    "*Redline* answers questions behind the workspace's usage policy.\n"
    "• `/ask <question>`: ask in this channel; the answer lands in a thread.\n"
    "• `@Redline <question>` in a channel, or a direct message: same, in the thread.\n"
    "• `/redline check <text>`: privately see the policy decision for a text "
    "(`allow`, `review` or `refuse`); never calls the model.\n"
    "• `/redline policy`: the policy's categories, hard limits first.\n"
    "• `/redline profile`: the policy profile active in this channel.\n"
    "• Admins: `/redline audit [@user] [category] [since]`, `/redline stats [since]`, "
    "`/redline review`, `/redline profile set <profile>|default [#channel]`.\n"
    "• `/redline help`: this message."
)


def help_message() -> Message:
    return Message(text=HELP_TEXT, blocks=(section(HELP_TEXT),))


def usage_message(command: str, usage: str) -> Message:
    text = f"Usage: `{command} {usage}`"
    return Message(text=text, blocks=(section(text),))


def policy_message(categories: Iterable[Any], profile: str, version: str) -> Message:
    """List the policy's categories, hard limits first, with the decision for `profile`."""
    cats = list(categories)
    hard = [c for c in cats if getattr(c, "hard", False)]
    rest = [c for c in cats if not getattr(c, "hard", False)]
    lines = ["*Hard limits* (refused under every profile):"]
    lines += [_category_line(c, None) for c in hard] or ["• (none)"]
    lines.append(f"\n*Restricted* (decision under the `{escape(profile)}` profile):")
    lines += [_category_line(c, profile) for c in rest] or ["• (none)"]
    lines.append("\nEverything else is allowed.")
    body = "\n".join(lines)
    pieces = split_text(body)
    blocks = [section(p) for p in pieces[: BLOCKS_PER_MESSAGE - 1]]
    blocks.append(context(f"policy {escape(version[:12])}"))
    return Message(text=body[:TEXT_LIMIT], blocks=tuple(blocks))


def _category_line(category: Any, profile: str | None) -> str:
    cid = escape(str(getattr(category, "id", "?")))
    title = escape(str(getattr(category, "title", "") or cid))
    line = f"• *{title}* (`{cid}`)"
    if profile is not None:
        decisions = getattr(category, "decisions", {}) or {}
        decision = decisions.get(profile)
        if decision:
            line += f": `{escape(str(decision))}`"
    description = str(getattr(category, "description", "") or "").strip()
    if description:
        short = description if len(description) <= 220 else description[:217].rstrip() + "…"
        line += f"\n    {escape(short)}"
    return line


def profile_message(channel: str, profile: str, default: str) -> Message:
    note = "the workspace default" if profile == default else f"overrides the default `{default}`"
    text = f"This channel uses the `{escape(profile)}` policy profile ({note})."
    return Message(text=text, blocks=(section(text),))
