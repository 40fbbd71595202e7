"""Block Kit rendering: Slack's limits respected by splitting, never truncating."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.blocks import (
    BLOCKS_PER_MESSAGE,
    SECTION_LIMIT,
    TEXT_LIMIT,
    answer_messages,
    escape,
    held_message,
    markdown_to_mrkdwn,
    refusal_message,
    slack_len,
    split_text,
)
from bot.types import Verdict

VERDICT = Verdict(
    decision="refuse",
    category="autonomous_weapons",
    score=1.0,
    stage="rules",
    reason="Redline never helps build weapons that pick targets without a human.",
    policy_version="6512f4ceae08",
    profile="standard",
    hard_limit=True,
)

texts = st.lists(
    st.sampled_from(list("ab &<>\n.") + ["🌍", "é", "你", "\u200b", "&amp;", "word "]),
    max_size=3000,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(texts, st.integers(min_value=8, max_value=3000))
def test_split_text_rejoins_exactly_and_respects_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < slack_len(p) <= limit for p in pieces)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=20_000))
def test_answer_messages_never_truncate(text: str) -> None:
    messages = answer_messages(text)
    body = markdown_to_mrkdwn(text.strip())
    if body:
        assert "".join(m.text for m in messages) == body
    for message in messages:
        assert 1 <= len(message.blocks) <= BLOCKS_PER_MESSAGE
        assert slack_len(message.text) <= TEXT_LIMIT
        for block in message.blocks:
            assert slack_len(block["text"]["text"]) <= SECTION_LIMIT


def test_long_answer_spreads_over_several_messages() -> None:
    paragraph = ("All work and no play makes Jack a dull boy. " * 60).strip()
    text = "\n\n".join([paragraph] * 80)  # ~210,000 chars
    messages = answer_messages(text)
    assert len(messages) >= 6
    assert "".join(m.text for m in messages) == text
    assert all(len(m.blocks) <= BLOCKS_PER_MESSAGE for m in messages)


def test_model_text_cannot_ping_or_forge_mentions() -> None:
    (message,) = answer_messages("Hey <!channel> and <@U0BOSS> see <https://x|y> & more")
    shown = message.blocks[0]["text"]["text"]
    assert "<!channel>" not in shown and "<@U0BOSS>" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp; more" in shown


def test_markdown_maps_to_mrkdwn() -> None:
    out = markdown_to_mrkdwn("## Title\n**bold** and [docs](https://example.com/a)")
    assert out == "*Title*\n*bold* and <https://example.com/a|docs>"


def test_refusal_names_category_and_quotes_reason() -> None:
    message = refusal_message(VERDICT, False, {"autonomous_weapons": "Autonomous weapons"})
    shown = "\n".join(b.get("text", {}).get("text", "") for b in message.blocks)
    assert "*Autonomous weapons* (`autonomous_weapons`)" in shown
    assert "> " + escape(VERDICT.reason) in shown
    assert "hard limit" in shown
    assert "autonomous_weapons" in message.text


def test_held_message_says_human_review() -> None:
    message = held_message(
        Verdict(
            "review", "military_operations", 0.9, "classifier", "Needs review.", "v1", "standard"
        ),
        "rv-42",
    )
    assert "held for human review" in message.blocks[0]["text"]["text"]
    assert "rv-42" in str(message.blocks)
