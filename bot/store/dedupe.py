"""Event de-duplication: the first replica to claim an event key answers it.

A primary key on the key and INSERT … ON CONFLICT DO NOTHING: the database decides,
so two replicas receiving the same delivery (Slack retries) cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.store.audit import clean
from bot.store.db import Database
from bot.store.models import to_us, utcnow
from bot.store.schema import events

# Slack retries within minutes; a day is ample and keeps the table small.
EVENT_TTL = timedelta(hours=24)


class EventDedupe:
    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, key: str, now: datetime | None = None) -> bool:
        """True the first time `key` is claimed (until it expires), False after."""
        key = clean(key, 255)
        if not key:
            raise ValueError("event key must not be empty")
        stmt = self._db.insert(events).values(key=key, claimed_us=to_us(now or utcnow()))
        with self._db.write("claiming an event") as conn:
            # RETURNING, not rowcount: a skipped insert returns no row on every driver
            claimed = conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["key"]).returning(events.c.key)
            ).first()
        return claimed is not None

    def expire(self, now: datetime | None = None, ttl: timedelta = EVENT_TTL) -> int:
        cutoff = to_us((now or utcnow()) - ttl)
        with self._db.write("expiring event keys") as conn:
            return int(conn.execute(delete(events).where(events.c.claimed_us < cutoff)).rowcount)
