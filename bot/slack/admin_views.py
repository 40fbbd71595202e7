"""Block Kit for the admin surface: `/redline audit` (paginated), `/redline stats`,
`/redline review`, `/redline profile set`, and the App Home view.

Pure functions from the values in `bot.admin` to Slack payloads; user-written text is
escaped. Stats are a monospace table in a section (works in every Slack client).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.admin import AuditPage, HomeData, ProfileChange
from bot.slack import review_cards
from bot.slack.blocks import (
    BLOCKS_PER_MESSAGE,
    SECTION_LIMIT,
    Block,
    Message,
    context,
    escape,
    section,
)
from bot.store.models import AuditRecord, ReviewItem, Stats

AUDIT_PREV = "redline_audit_prev"
AUDIT_NEXT = "redline_audit_next"
DECISIONS = ("allow", "review", "refuse")


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def text_message(text: str) -> Message:
    return Message(text=text, blocks=(section(text[:SECTION_LIMIT]),))


# --- /redline audit ----------------------------------------------------------------------


def _record_line(r: AuditRecord) -> str:
    when = r.ts.strftime("%Y-%m-%d %H:%M:%S")
    bits = [f"`{r.seq}` {when}", f"*{escape(r.action)}* `{escape(r.decision)}`"]
    if r.category:
        bits.append(f"`{escape(r.category)}`")
    if r.user:
        bits.append(f"<@{escape(r.user)}>")
    if r.channel:
        bits.append(f"<#{escape(r.channel)}>" if r.channel[0] in "CG" else escape(r.channel))
    if r.stage:
        bits.append(f"{escape(r.stage)} {r.score:.2f}")
    line = " · ".join(bits)
    if r.detail:
        line += f"\n    {escape(r.detail[:200])}"
    if r.text:
        line += f"\n    > {escape(r.text[:200]).replace(chr(10), ' ')}"
    return line


def audit_message(page: AuditPage) -> Message:
    f = page.filter
    first = f.offset + 1 if page.records else 0
    last = f.offset + len(page.records)
    blocks: list[Block] = [
        header("Audit log"),
        context(f"{escape(f.describe())} · {first}–{last} of {page.total}, newest first"),
    ]
    if not page.records:
        blocks.append(section("_No matching records._"))
    for r in page.records:
        blocks.append(section(_record_line(r)[:SECTION_LIMIT]))
    buttons = []
    if page.has_prev:
        prev = f.__class__(f.user, f.category, f.since, max(0, f.offset - page.page_size))
        buttons.append(_page_button("◀ Newer", AUDIT_PREV, prev.to_value()))
    if page.has_next:
        nxt = f.__class__(f.user, f.category, f.since, f.offset + page.page_size)
        buttons.append(_page_button("Older ▶", AUDIT_NEXT, nxt.to_value()))
    if buttons:
        blocks.append({"type": "actions", "block_id": "redline_audit_pages", "elements": buttons})
    return Message(text=f"Audit log: {f.describe()} ({page.total} records)", blocks=tuple(blocks))


def _page_button(label: str, action_id: str, value: Mapping[str, Any]) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": json.dumps(value, separators=(",", ":")),
    }


# --- /redline stats ----------------------------------------------------------------------


def stats_table(stats: Stats) -> str:
    """Counts per category and decision (requests and answers), as a monospace table."""
    cats = sorted({c for c, _ in stats.by_category_decision})
    extra = sorted({d for _, d in stats.by_category_decision} - set(DECISIONS))
    cols = [*DECISIONS, *extra]
    width = max([len("category"), *(len(c) for c in cats)])
    lines = ["category".ljust(width) + "".join(f"{d:>9}" for d in cols)]
    for c in cats:
        row = "".join(f"{stats.by_category_decision.get((c, d), 0):>9}" for d in cols)
        lines.append(c.ljust(width) + row)
    if not cats:
        lines.append("(no decisions yet)")
    return "```\n" + "\n".join(lines) + "\n```"


def stats_message(stats: Stats, since_label: str = "") -> Message:
    label = since_label or (
        f"since {stats.since.strftime('%Y-%m-%d %H:%M')} UTC" if stats.since else "all time"
    )
    busiest = (
        "\n".join(
            f"{i}. {_channel(ch)}: {n}" for i, (ch, n) in enumerate(stats.busiest_channels, 1)
        )
        or "_none yet_"
    )
    blocks: list[Block] = [
        header("Redline stats"),
        context(escape(label)),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Requests*\n{stats.requests}"},
                {"type": "mrkdwn", "text": f"*Refusal rate*\n{stats.refusal_rate:.1%}"},
                {"type": "mrkdwn", "text": f"*Allowed*\n{stats.allowed}"},
                {"type": "mrkdwn", "text": f"*Held for review*\n{stats.reviewed}"},
                {"type": "mrkdwn", "text": f"*Refused*\n{stats.refused}"},
            ],
        },
        section(stats_table(stats)[:SECTION_LIMIT]),
        section(f"*Busiest channels* (requests)\n{busiest}"[:SECTION_LIMIT]),
    ]
    text = f"Redline stats ({label}): {stats.requests} requests, {stats.refusal_rate:.1%} refused"
    return Message(text=text, blocks=tuple(blocks))


def _channel(channel: str) -> str:
    return f"<#{escape(channel)}>" if channel[:1] in ("C", "G") else escape(channel or "?")


# --- /redline review ---------------------------------------------------------------------


def pending_message(items: Sequence[ReviewItem], titles: Mapping[str, str]) -> Message:
    if not items:
        return text_message("No requests are waiting for review.")
    blocks = [header(f"Pending reviews ({len(items)})"), *review_cards.pending_cards(items, titles)]
    return Message(text=f"{len(items)} pending reviews", blocks=tuple(blocks[:BLOCKS_PER_MESSAGE]))


# --- /redline profile set ----------------------------------------------------------------


def profile_changed_message(change: ProfileChange) -> Message:
    lines = "\n".join(f"• `{escape(c)}`: `{escape(d)}`" for c, d in change.decisions)
    text = (
        f"{_channel(change.channel)} now uses the `{escape(change.profile)}` profile "
        f"(was `{escape(change.previous)}`). Restricted categories there:\n{lines}\n"
        "Hard limits are refused under every profile."
    )
    return Message(text=text, blocks=(section(text[:SECTION_LIMIT]),))


# --- App Home ----------------------------------------------------------------------------


def home_view(data: HomeData, titles: Mapping[str, str] | None = None) -> dict[str, Any]:
    titles = titles or {}
    hard = [c for c in data.categories if c.hard]
    restricted = [c for c in data.categories if not c.hard]
    blocks: list[Block] = [
        header("Redline"),
        section(
            "Your team's AI assistant, behind a usage policy enforced in code. Every "
            "request and every answer gets a decision: *allow*, *hold for human review*, "
            "or *refuse*. Ask with `/ask`, by mentioning @Redline, or in a DM."
        ),
        header("Never allowed (hard limits)"),
        section(
            "\n".join(f"• *{escape(c.title)}*: {escape(_short(c.description))}" for c in hard)[
                :SECTION_LIMIT
            ]
            or "_none_"
        ),
        header(f"Restricted (profile: {data.profile})"),
        section(
            "\n".join(
                f"• *{escape(c.title)}*: {_decision_words(c.decision)}. "
                f"{escape(_short(c.description))}"
                for c in restricted
            )[:SECTION_LIMIT]
            or "_none_"
        ),
        context(
            f"Everything else is allowed. Active profile `{escape(data.profile)}`: "
            f"{escape(data.profile_description)} · policy {escape(data.policy_version[:12])}"
        ),
        {"type": "divider"},
        header("Your recent requests"),
    ]
    if data.recent:
        blocks.append(section("\n".join(_my_line(r, titles) for r in data.recent)[:SECTION_LIMIT]))
    else:
        blocks.append(section("_Nothing yet._"))
    if data.is_admin:
        blocks.append({"type": "divider"})
        if data.today is not None:
            t = data.today
            blocks.append(header("Today"))
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*Requests*\n{t.requests}"},
                        {"type": "mrkdwn", "text": f"*Refusal rate*\n{t.refusal_rate:.1%}"},
                        {"type": "mrkdwn", "text": f"*Held for review*\n{t.reviewed}"},
                        {"type": "mrkdwn", "text": f"*Refused*\n{t.refused}"},
                    ],
                }
            )
        if data.channel_profiles:
            overrides = ", ".join(f"{_channel(c)} `{escape(p)}`" for c, p in data.channel_profiles)
            blocks.append(context(f"Channel profiles: {overrides}"[:SECTION_LIMIT]))
        blocks.append(header(f"Review queue ({len(data.pending)})"))
        room = BLOCKS_PER_MESSAGE * 2 - len(blocks) - 1  # a home view takes up to 100 blocks
        if data.pending:
            blocks.extend(review_cards.pending_cards(data.pending, titles)[:room])
        else:
            blocks.append(section("_Nothing waiting._"))
    return {"type": "home", "blocks": blocks}


def _short(text: str, limit: int = 160) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _decision_words(decision: str) -> str:
    return {"allow": "allowed", "review": "held for a reviewer", "refuse": "refused"}.get(
        decision, decision
    )


def _my_line(r: AuditRecord, titles: Mapping[str, str]) -> str:
    when = r.ts.strftime("%b %d %H:%M")
    what = escape(titles.get(r.category, r.category)) if r.category else "no category"
    return f"• {when} UTC · `{escape(r.decision)}` · {what}"
