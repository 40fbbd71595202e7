"""Rate limits shared by every replica: a sliding-window counter kept in the database.

The window is approximated the usual way: this fixed window's count plus the previous
window's count weighted by how much of it still overlaps the sliding window. The
increment is one conditional upsert (`… DO UPDATE SET count = count + 1 WHERE count <
cap`), evaluated under the row lock, so concurrent hits on any replica never overshoot.
A refused hit is not counted: a user who keeps trying is not locked out for longer.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.settings import RateLimit
from bot.store.audit import clean
from bot.store.db import Database
from bot.store.models import to_us, utcnow
from bot.store.schema import rate_counters

_MAX_WINDOW = timedelta(days=1)  # the longest unit RateLimit.parse accepts


class RateLimiter:
    def __init__(self, db: Database) -> None:
        self._db = db

    def hit(self, key: str, limit: RateLimit | None, now: datetime | None = None) -> bool:
        """Count one request for `key`; False when over `limit` (None = unlimited)."""
        if limit is None:
            return True
        key = clean(key, 255)
        now_us = to_us(now or utcnow())
        per_us = limit.per_seconds * 1_000_000
        window = now_us - now_us % per_us
        overlap = 1.0 - (now_us - window) / per_us
        with self._db.write("checking a rate limit") as conn:
            previous = conn.execute(
                select(rate_counters.c.count).where(
                    rate_counters.c.key == key, rate_counters.c.window_us == window - per_us)
            ).scalar() or 0
            cap = limit.count - math.ceil(previous * overlap)
            if cap <= 0:
                return False
            stmt = self._db.insert(rate_counters).values(key=key, window_us=window, count=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key", "window_us"],
                set_={"count": rate_counters.c.count + 1},
                where=rate_counters.c.count < cap,
            )
            return conn.execute(stmt.returning(rate_counters.c.count)).first() is not None

    def expire(self, now: datetime | None = None) -> int:
        cutoff = to_us((now or utcnow()) - 2 * _MAX_WINDOW)
        with self._db.write("expiring rate counters") as conn:
            return int(conn.execute(
                delete(rate_counters).where(rate_counters.c.window_us < cutoff)).rowcount)
