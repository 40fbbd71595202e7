"""Persistent state: audit log (hash-chained), review queue, channel profiles, event
de-duplication and rate limits, over SQLAlchemy (SQLite or PostgreSQL)."""

from bot.store.errors import ReviewRefused, SchemaTooNew, StoreError, StoreUnavailable
from bot.store.models import AuditRecord, Housekeeping, ReviewItem, Stats, VerifyResult
from bot.store.store import Store, migrate

__all__ = [
    "AuditRecord",
    "Housekeeping",
    "ReviewItem",
    "ReviewRefused",
    "SchemaTooNew",
    "Stats",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VerifyResult",
    "migrate",
]
