"""Values the store hands to other modules: small frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ReviewStatus = Literal["pending", "approved", "denied", "expired"]


def to_us(moment: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch (how the store keeps time)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pass an aware (UTC) datetime")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditRecord:
    """One stored audit record, as written (text already reduced and redacted)."""

    seq: int
    ts: datetime
    action: str
    request_id: str
    team: str
    channel: str
    user: str
    profile: str
    policy_version: str
    category: str | None
    decision: str
    stage: str
    score: float
    model: str
    latency_ms: float
    text: str | None  # None when REDLINE_AUDIT_TEXT did not keep it
    text_hash: str | None  # salted sha256 of the raw text; None when there was no text
    detail: str
    review_id: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ts"] = self.ts.isoformat().replace("+00:00", "Z")
        return out


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of walking the hash chain."""

    ok: bool
    checked: int  # records examined
    first_seq: int | None  # first record still present (after purges)
    head_seq: int  # the chain head the app last wrote
    head_hash: str
    bad_seq: int | None = None  # first record found edited / inserted / after a deletion
    problem: str = ""  # "edited" | "inserted" | "deleted" | "" when ok
    message: str = ""
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class ReviewItem:
    """A held request waiting for (or past) a reviewer's decision."""

    id: str
    status: ReviewStatus
    created_at: datetime
    expires_at: datetime
    request_id: str
    team: str
    channel: str
    thread_ts: str
    user: str
    # The original text, kept only while pending, so an approval can replay it through the
    # model. Wiped when the item is decided or expires; the winner of decide_review gets it.
    text: str
    display_text: str  # redacted copy, for the review card
    category: str | None
    evidence: tuple[str, ...]  # redacted
    summary: str
    profile: str
    policy_version: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    card_channel: str = ""
    card_ts: str = ""


@dataclass(frozen=True)
class Stats:
    """Figures for `/redline stats` and App Home."""

    since: datetime | None
    requests: int  # action = request
    refused: int
    reviewed: int
    allowed: int
    refusal_rate: float  # refused / requests (0 when no requests)
    # (category or "none", decision) -> count, over requests and responses
    by_category_decision: dict[tuple[str, str], int] = field(default_factory=dict)
    busiest_channels: tuple[tuple[str, int], ...] = ()  # (channel, requests), most first


@dataclass(frozen=True)
class Housekeeping:
    """What one `Store.housekeeping()` run did; expired items let the UI update cards."""

    expired_reviews: tuple[ReviewItem, ...] = ()
    events_expired: int = 0
    rate_counters_expired: int = 0
