"""Small builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.types import AuditEntry

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def entry(
    i: int = 0, *, decision: str = "allow", user: str = "U1", channel: str = "C1",
    category: str | None = None, text: str = "", action: str = "request", detail: str = "",
) -> AuditEntry:
    return AuditEntry(
        action=action, request_id=f"req-{i}", team="T1", channel=channel, user=user,
        profile="standard", decision=decision, category=category, stage="rules",
        score=0.25 + (i % 7) / 10, policy_version="pv1", model="m1", latency_ms=1.5 + i,
        text=text, detail=detail,
    )
