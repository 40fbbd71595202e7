"""Values that cross module lines: small frozen dataclasses, no Slack types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Decision = Literal["allow", "review", "refuse"]
Kind = Literal["request", "response"]
Role = Literal["user", "assistant"]
Source = Literal["slash", "mention", "dm", "assistant", "console", "review"]


@dataclass(frozen=True)
class Verdict:
    """One decision of the policy engine on one text."""

    decision: Decision
    category: str | None  # a taxonomy id; None when nothing matched
    score: float  # confidence in `category` (0..1); 0 when allowed with no category
    stage: str  # "rules" | "classifier" | "judge" | "context" | "default" | "error"
    reason: str  # the policy's short user-facing reason ("" when allowed)
    policy_version: str  # content hash of the policy file
    profile: str
    kind: Kind = "request"
    hard_limit: bool = False
    evidence: tuple[str, ...] = ()  # matched spans or nearest training examples
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Turn:
    """One earlier message of a thread, oldest first in `Request.history`."""

    role: Role
    text: str


@dataclass(frozen=True)
class Request:
    """A user's ask, transport-free: what the handlers hand to the ask flow."""

    text: str
    user: str
    channel: str
    team: str = ""
    history: tuple[Turn, ...] = ()
    source: Source = "console"
    request_id: str = ""
    thread_ts: str = ""  # where the reply goes; opaque to the ask flow
    user_is_admin: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class AuditEntry:
    """What the ask flow and the admin surface hand to the audit log.

    `text` is the raw text; the store decides what of it is kept (REDLINE_AUDIT_TEXT),
    redacts it, and hashes it. Secrets must never be put here.
    """

    action: str  # "request" | "response" | "review" | "admin" | "error"
    request_id: str
    team: str
    channel: str
    user: str
    profile: str
    decision: str  # allow | review | refuse | approved | denied | expired | denied_access | ...
    category: str | None = None
    stage: str = ""
    score: float = 0.0
    policy_version: str = ""
    model: str = ""
    latency_ms: float = 0.0
    text: str = ""
    detail: str = ""  # short free text: reviewer, reason, admin command (redacted by the store)
