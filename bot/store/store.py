"""`Store`: the one object the rest of Redline uses for persistent state.

Built once at start (`Store.open(settings)`), passed down, thread-safe. Every method
raises `StoreUnavailable` (one-line message) when the database cannot be reached, so the
caller can fail closed; the connection pool re-checks connections (pool_pre_ping), so
the next call after the database is back simply works.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TextIO

from sqlalchemy import exc, text

from bot.settings import RateLimit, Settings
from bot.store.audit import AuditLog
from bot.store.db import Database, describe
from bot.store.dedupe import EventDedupe
from bot.store.errors import StoreUnavailable
from bot.store.migrations import UpgradeResult, upgrade
from bot.store.models import (
    AuditRecord,
    Housekeeping,
    ReviewItem,
    Stats,
    VerifyResult,
    utcnow,
)
from bot.store.profiles import ChannelProfiles
from bot.store.queries import AuditQueries
from bot.store.ratelimit import RateLimiter
from bot.store.redact import Redactor
from bot.store.reviews import ReviewQueue
from bot.types import AuditEntry


def migrate(settings: Settings) -> UpgradeResult:
    """Apply pending schema migrations (`redline db upgrade`)."""
    db = Database(settings.database_url)
    try:
        return _upgrade(db)
    finally:
        db.dispose()


def _upgrade(db: Database) -> UpgradeResult:
    try:
        return upgrade(db.engine)
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as e:
        raise StoreUnavailable(
            f"cannot reach the database at {db.display_url}: {describe(e)}"
        ) from e
    except exc.DBAPIError as e:  # reached it, but e.g. no permission to create tables
        raise StoreUnavailable(
            f"cannot prepare the database at {db.display_url}: {describe(e)}"
        ) from e


class Store:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self.redactor = Redactor(settings.secrets())
        self.audit = AuditLog(db, settings, self.redactor)
        self.queries = AuditQueries(db)
        self.reviews = ReviewQueue(db, self.audit, self.redactor, settings.review_ttl_h)
        self.profiles = ChannelProfiles(db, self.audit)
        self.events = EventDedupe(db)
        self.limits = RateLimiter(db)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """Connect, apply migrations, load the audit salt. Raises StoreUnavailable with a
        one-line message when the database is unreachable."""
        db = Database(settings.database_url)
        try:
            if migrate:
                _upgrade(db)
            store = cls(db, settings)
            store.audit.load_salt()
        except BaseException:
            db.dispose()
            raise
        return store

    def close(self) -> None:
        self.audit.close()
        self._db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        return self._db.dialect

    def ping(self) -> bool:
        """True when the database answers (for /healthz); never raises."""
        try:
            with self._db.read("pinging") as conn:
                conn.execute(text("SELECT 1"))
            return True
        except StoreUnavailable:
            return False

    # -- audit log ----------------------------------------------------------------------

    def record(
        self, entry: AuditEntry, *, review_id: str | None = None, now: datetime | None = None
    ) -> int:
        """Append to the audit log; returns the record's seq once durably committed."""
        return self.audit.record(entry, review_id=review_id, now=now)

    def verify(self) -> VerifyResult:
        return self.audit.verify()

    def purge(self, now: datetime | None = None, retention_days: int | None = None) -> int:
        """Delete records older than REDLINE_RETENTION_DAYS (0 = keep forever)."""
        days = self._settings.retention_days if retention_days is None else retention_days
        return self.audit.purge(now or utcnow(), days)

    def export(
        self, out: TextIO, fmt: str = "jsonl", since: datetime | None = None,
        category: str | None = None,
    ) -> int:
        return self.queries.export(out, fmt, since, category)

    def iter_records(
        self, since: datetime | None = None, category: str | None = None
    ) -> Iterator[AuditRecord]:
        return self.queries.iter_records(since, category)

    def query_audit(
        self, user: str | None = None, category: str | None = None,
        since: datetime | None = None, limit: int = 20, offset: int = 0,
    ) -> list[AuditRecord]:
        return self.queries.query_audit(user, category, since, limit, offset)

    def count_audit(
        self, user: str | None = None, category: str | None = None, since: datetime | None = None
    ) -> int:
        return self.queries.count_audit(user, category, since)

    def stats(self, since: datetime | None = None) -> Stats:
        return self.queries.stats(since)

    def recent_for_user(self, user: str, n: int = 10) -> list[AuditRecord]:
        return self.queries.recent_for_user(user, n)

    # -- review queue -------------------------------------------------------------------

    def create_review(
        self, *, request_id: str, team: str, channel: str, thread_ts: str, user: str,
        text: str, category: str | None, evidence: Sequence[str] = (), summary: str = "",
        profile: str = "", policy_version: str = "", now: datetime | None = None,
    ) -> ReviewItem:
        return self.reviews.create(
            request_id=request_id, team=team, channel=channel, thread_ts=thread_ts, user=user,
            text=text, category=category, evidence=evidence, summary=summary, profile=profile,
            policy_version=policy_version, now=now,
        )

    def get_review(self, review_id: str) -> ReviewItem | None:
        return self.reviews.get(review_id)

    def pending_reviews(self, now: datetime | None = None, limit: int = 50) -> list[ReviewItem]:
        return self.reviews.pending(now, limit)

    def set_review_card(self, review_id: str, channel: str, ts: str) -> None:
        self.reviews.set_card(review_id, channel, ts)

    def decide_review(
        self, review_id: str, reviewer: str, approve: bool, reason: str = "",
        now: datetime | None = None,
    ) -> tuple[ReviewItem, bool]:
        return self.reviews.decide(review_id, reviewer, approve, reason, now)

    def expire_reviews(self, now: datetime | None = None) -> list[ReviewItem]:
        return self.reviews.expire(now)

    # -- channel profiles ---------------------------------------------------------------

    def channel_profile(self, channel: str) -> str | None:
        return self.profiles.get(channel)

    def channel_profiles(self) -> dict[str, str]:
        return self.profiles.all()

    def set_channel_profile(
        self, channel: str, profile: str | None, by_user: str, *, team: str = "",
        now: datetime | None = None,
    ) -> None:
        self.profiles.set(channel, profile, by_user, team=team, now=now)

    # -- shared state across replicas ---------------------------------------------------

    def claim_event(self, key: str, now: datetime | None = None) -> bool:
        return self.events.claim(key, now)

    def hit(self, key: str, limit: RateLimit | None, now: datetime | None = None) -> bool:
        return self.limits.hit(key, limit, now)

    def housekeeping(self, now: datetime | None = None) -> Housekeeping:
        """Periodic upkeep (run it every minute or so): expire reviews past their TTL, old
        event keys and rate counters. The audit purge is separate (`purge()`, daily):
        each purge that deletes something writes a checkpoint record."""
        now = now or utcnow()
        return Housekeeping(
            expired_reviews=tuple(self.reviews.expire(now)),
            events_expired=self.events.expire(now),
            rate_counters_expired=self.limits.expire(now),
        )
