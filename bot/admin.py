"""The admin surface, transport-free: audit listing, stats, the pending queue, channel
profiles, and the data behind App Home.

Every method takes the acting user first and checks it: a non-admin gets `NotAllowed`
and the attempt is written to the audit log. Bad arguments raise `AdminUsageError` with a
message that says what was expected. Reading the audit log is itself audited (who looked
at whose records), so the audit cannot quietly become a surveillance tool.

Profiles only map *restricted* categories to decisions; hard limits refuse under every
profile (the policy loader enforces it), so `set_profile` cannot relax one. It still
re-checks that invariant against the loaded policy and refuses to proceed if broken.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.settings import PROFILES, Settings
from bot.store.errors import StoreError
from bot.store.models import AuditRecord, ReviewItem, Stats, utcnow
from bot.types import AuditEntry

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

PAGE_SIZE = 10
NOT_ALLOWED_MESSAGE = "Not allowed: `/redline {sub}` is for Redline admins only."
_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w)$")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")
_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$|^#?([CGD][A-Z0-9]{2,})$")


class NotAllowed(Exception):
    """The actor may not do this (already audited)."""


class AdminUsageError(ValueError):
    """Bad arguments; the message says what was expected."""


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    category: str | None = None
    since: datetime | None = None
    offset: int = 0

    def describe(self) -> str:
        parts = []
        if self.user:
            parts.append(f"user <@{self.user}>")
        if self.category:
            parts.append(f"category {self.category}")
        if self.since:
            parts.append(f"since {self.since.strftime('%Y-%m-%d %H:%M')} UTC")
        return ", ".join(parts) or "all records"

    def to_value(self) -> dict[str, Any]:
        return {
            "u": self.user,
            "c": self.category,
            "s": self.since.isoformat() if self.since else None,
            "o": self.offset,
        }

    @classmethod
    def from_value(cls, d: dict[str, Any]) -> AuditFilter:
        since = datetime.fromisoformat(d["s"]) if d.get("s") else None
        return cls(d.get("u") or None, d.get("c") or None, since, max(0, int(d.get("o") or 0)))


@dataclass(frozen=True)
class AuditPage:
    filter: AuditFilter
    records: tuple[AuditRecord, ...]
    total: int
    page_size: int = PAGE_SIZE

    @property
    def has_prev(self) -> bool:
        return self.filter.offset > 0

    @property
    def has_next(self) -> bool:
        return self.filter.offset + len(self.records) < self.total


@dataclass(frozen=True)
class ProfileChange:
    channel: str
    profile: str
    previous: str
    decisions: tuple[tuple[str, str], ...]  # restricted category -> decision now


@dataclass(frozen=True)
class CategoryLine:
    id: str
    title: str
    description: str
    hard: bool
    decision: str  # under the viewer's active profile


@dataclass(frozen=True)
class HomeData:
    """Everything App Home shows one viewer."""

    user: str
    is_admin: bool
    profile: str
    profile_description: str
    policy_version: str
    categories: tuple[CategoryLine, ...]  # hard limits first
    recent: tuple[AuditRecord, ...]
    pending: tuple[ReviewItem, ...] = ()
    today: Stats | None = None
    channel_profiles: tuple[tuple[str, str], ...] = ()


def parse_since(word: str, now: datetime) -> datetime | None:
    """`30m`, `24h`, `7d`, `2w`, `today`, `yesterday`, `2026-11-01`, or an ISO time."""
    w = word.strip().lower()
    m = _DURATION.match(w)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        step = {
            "m": timedelta(minutes=1),
            "min": timedelta(minutes=1),
            "h": timedelta(hours=1),
            "d": timedelta(days=1),
            "w": timedelta(weeks=1),
        }[unit]
        return now - n * step
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if w == "today":
        return midnight
    if w == "yesterday":
        return midnight - timedelta(days=1)
    try:
        moment = datetime.fromisoformat(word.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_user(word: str) -> str | None:
    m = _USER.match(word.strip())
    return (m.group(1) or m.group(2)) if m else None


def parse_channel(word: str) -> str | None:
    m = _CHANNEL.match(word.strip())
    return (m.group(1) or m.group(2)) if m else None


class AdminService:
    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        engine: Any,
        clock: Callable[[], datetime] = utcnow,
        reviewers: Callable[[str], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._engine = engine
        self._clock = clock
        self._is_reviewer = reviewers

    # -- who ------------------------------------------------------------------------------

    def is_admin(self, user: str) -> bool:
        return bool(user) and user in self._settings.admins

    def require(
        self,
        actor: str,
        sub: str,
        *,
        team: str = "",
        channel: str = "",
        reviewers_too: bool = False,
    ) -> None:
        """Raise NotAllowed (after auditing the attempt) unless `actor` is an admin
        (or, with reviewers_too, a reviewer)."""
        if self.is_admin(actor):
            return
        if reviewers_too and self._is_reviewer is not None and self._is_reviewer(actor):
            return
        try:
            self._record(
                AuditEntry(
                    action="admin",
                    request_id="",
                    team=team,
                    channel=channel,
                    user=actor,
                    profile="",
                    decision="denied_access",
                    detail=f"/redline {sub} by a non-admin",
                )
            )
        except Exception as exc:  # still not allowed; the log keeps the trace
            log.error("could not audit a refused /redline %s: %s", sub, type(exc).__name__)
        raise NotAllowed(NOT_ALLOWED_MESSAGE.format(sub=sub))

    # -- /redline audit -------------------------------------------------------------------

    def parse_audit(self, args: str) -> AuditFilter:
        """`[@user] [category] [since]`, in any order."""
        user = category = None
        since = None
        categories = self.category_ids()
        for word in args.split():
            if (u := parse_user(word)) is not None and user is None:
                user = u
            elif word in categories and category is None:
                category = word
            elif (s := parse_since(word, self._clock())) is not None and since is None:
                since = s
            else:
                raise AdminUsageError(
                    f"Didn't understand `{word}`. Usage: `/redline audit [@user] [category] "
                    "[since]`; since is e.g. `24h`, `7d`, `today` or `2026-11-01`; categories: "
                    + ", ".join(f"`{c}`" for c in categories)
                    + ". Mention users as <@U…> (or give their id)."
                )
        return AuditFilter(user, category, since)

    def audit(
        self, actor: str, flt: AuditFilter, *, team: str = "", channel: str = ""
    ) -> AuditPage:
        self.require(actor, "audit", team=team, channel=channel)
        store = self._need_store()
        # Recorded before reading: a query that cannot be audited is not answered.
        self._record(
            AuditEntry(
                action="admin",
                request_id="",
                team=team,
                channel=channel,
                user=actor,
                profile="",
                decision="audit_query",
                category=flt.category,
                detail=f"audit query: {flt.describe()} offset {flt.offset}",
            )
        )
        records = store.query_audit(flt.user, flt.category, flt.since, PAGE_SIZE, flt.offset)
        total = store.count_audit(flt.user, flt.category, flt.since)
        return AuditPage(flt, tuple(records), total)

    # -- /redline stats -------------------------------------------------------------------

    def stats(self, actor: str, args: str = "", *, team: str = "", channel: str = "") -> Stats:
        self.require(actor, "stats", team=team, channel=channel)
        since = None
        if args.strip():
            since = parse_since(args.strip(), self._clock())
            if since is None:
                raise AdminUsageError(
                    "Usage: `/redline stats [since]`; since is e.g. `24h`, "
                    "`7d`, `today` or `2026-11-01`."
                )
        return self._need_store().stats(since)

    # -- /redline review ------------------------------------------------------------------

    def pending(self, actor: str, *, team: str = "", channel: str = "") -> list[ReviewItem]:
        self.require(actor, "review", team=team, channel=channel, reviewers_too=True)
        return self._need_store().pending_reviews(self._clock(), limit=10)

    # -- /redline profile set ---------------------------------------------------------------

    def set_profile(
        self, actor: str, args: str, *, current_channel: str, team: str = ""
    ) -> ProfileChange:
        """`<profile> [#channel]`; `default` clears the channel's override."""
        self.require(actor, "profile set", team=team, channel=current_channel)
        words = args.split()
        usage = (
            "Usage: `/redline profile set <profile> [#channel]`; profiles: "
            + ", ".join(f"`{p}`" for p in self.profiles())
            + ", or `default` to clear."
        )
        if not words or len(words) > 2:
            raise AdminUsageError(usage)
        profile = words[0].strip().lower()
        if profile != "default" and profile not in self.profiles():
            raise AdminUsageError(f"Unknown profile `{words[0]}`. " + usage)
        channel = current_channel
        if len(words) == 2:
            parsed = parse_channel(words[1])
            if parsed is None:
                raise AdminUsageError(
                    f"`{words[1]}` is not a channel. Pick it as #channel (Slack sends it as "
                    "<#C…>) or give its id. " + usage
                )
            channel = parsed
        if not channel:
            raise AdminUsageError("No channel to set the profile for. " + usage)
        target = None if profile == "default" else profile
        if target is not None:
            self._check_hard_limits(target)
        store = self._need_store()
        previous = store.channel_profile(channel) or self._file_profile(channel)
        store.set_channel_profile(channel, target, actor, team=team, now=self._clock())
        now_profile = target or self._file_profile(channel)
        return ProfileChange(channel, now_profile, previous, self._restricted(now_profile))

    # -- App Home ---------------------------------------------------------------------------

    def home(self, user: str) -> HomeData:
        """What App Home shows `user`; admin sections only for admins."""
        admin = self.is_admin(user)
        profile = self._settings.profile
        policy = self._engine.policy
        profile = profile if profile in policy.profiles else policy.default_profile
        lines = tuple(
            CategoryLine(
                c.id,
                c.title,
                " ".join(str(c.description).split()),
                bool(c.hard),
                c.decision(profile),
            )
            for c in sorted(policy.categories, key=lambda c: not c.hard)
        )
        store = self._store
        recent: Sequence[AuditRecord] = ()
        pending: Sequence[ReviewItem] = ()
        today = None
        overrides: tuple[tuple[str, str], ...] = ()
        try:
            if store is not None:
                recent = store.recent_for_user(user, 5)
            if admin and store is not None:
                now = self._clock()
                pending = store.pending_reviews(now, limit=10)
                today = store.stats(parse_since("today", now))
                overrides = tuple(sorted(store.channel_profiles().items()))
        except StoreError as exc:  # the policy part still shows
            log.warning("App Home without store data: %s", exc)
        return HomeData(
            user=user,
            is_admin=admin,
            profile=profile,
            profile_description=str(policy.profiles.get(profile, "")),
            policy_version=str(policy.version),
            categories=lines,
            recent=tuple(recent),
            pending=tuple(pending),
            today=today,
            channel_profiles=overrides,
        )

    # -- helpers ----------------------------------------------------------------------------

    def category_ids(self) -> list[str]:
        return [c.id for c in self._engine.policy.categories]

    def titles(self) -> dict[str, str]:
        return {c.id: c.title for c in self._engine.policy.categories}

    def profiles(self) -> list[str]:
        return [p for p in self._engine.policy.profiles if p in PROFILES]

    def _restricted(self, profile: str) -> tuple[tuple[str, str], ...]:
        return tuple(
            (c.id, c.decision(profile)) for c in self._engine.policy.categories if not c.hard
        )

    def _check_hard_limits(self, profile: str) -> None:
        for cat in self._engine.policy.categories:
            if cat.hard and cat.decision(profile) != "refuse":
                # Cannot happen with a validated policy; refuse rather than relax a limit.
                raise AdminUsageError(
                    f"Profile `{profile}` would relax the hard limit "
                    f"`{cat.id}`; refusing to apply it."
                )

    def _file_profile(self, channel: str) -> str:
        try:
            return str(self._engine.profile_for_channel(channel))
        except Exception:
            return self._settings.profile

    def _need_store(self) -> Store:
        if self._store is None:
            raise AdminUsageError("The store is not configured (DATABASE_URL); nothing to show.")
        return self._store

    def _record(self, entry: AuditEntry) -> None:
        if self._store is not None:
            self._store.record(entry)
