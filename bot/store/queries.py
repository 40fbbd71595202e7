"""Read-side of the audit log: admin queries, stats, and streaming export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Select, desc, func, select

from bot.store.db import Database
from bot.store.models import AuditRecord, Stats, from_us, to_us
from bot.store.schema import audit_log

EXPORT_FIELDS = tuple(AuditRecord.__dataclass_fields__)
EXPORT_BATCH = 5_000


def to_record(row: Any) -> AuditRecord:
    m = row._mapping
    return AuditRecord(
        seq=int(m["seq"]),
        ts=from_us(int(m["ts_us"])),
        action=m["action"],
        request_id=m["request_id"],
        team=m["team"],
        channel=m["channel"],
        user=m["user_id"],
        profile=m["profile"],
        policy_version=m["policy_version"],
        category=m["category"],
        decision=m["decision"],
        stage=m["stage"],
        score=float(m["score"]),
        model=m["model"],
        latency_ms=float(m["latency_ms"]),
        text=m["text"],
        text_hash=m["text_hash"],
        detail=m["detail"],
        review_id=m["review_id"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


def _filtered(
    stmt: Select[Any],
    *,
    user: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
) -> Select[Any]:
    if user:
        stmt = stmt.where(audit_log.c.user_id == user)
    if category:
        stmt = stmt.where(audit_log.c.category == category)
    if since is not None:
        stmt = stmt.where(audit_log.c.ts_us >= to_us(since))
    if action:
        stmt = stmt.where(audit_log.c.action == action)
    return stmt


class AuditQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def query_audit(
        self,
        user: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Newest first; page with offset."""
        stmt = _filtered(select(audit_log), user=user, category=category, since=since)
        stmt = stmt.order_by(desc(audit_log.c.seq)).limit(max(1, min(limit, 1000)))
        stmt = stmt.offset(max(0, offset))
        with self._db.read("querying the audit log") as conn:
            return [to_record(r) for r in conn.execute(stmt)]

    def count_audit(
        self, user: str | None = None, category: str | None = None, since: datetime | None = None
    ) -> int:
        stmt = _filtered(select(func.count()).select_from(audit_log), user=user,
                         category=category, since=since)
        with self._db.read("counting the audit log") as conn:
            return int(conn.execute(stmt).scalar_one())

    def recent_for_user(self, user: str, n: int = 10) -> list[AuditRecord]:
        """The user's own latest decisions on their requests (App Home)."""
        stmt = _filtered(select(audit_log), user=user, action="request")
        stmt = stmt.order_by(desc(audit_log.c.seq)).limit(max(1, min(n, 100)))
        with self._db.read("reading recent decisions") as conn:
            return [to_record(r) for r in conn.execute(stmt)]

    def stats(self, since: datetime | None = None, top_channels: int = 5) -> Stats:
        cat = func.coalesce(audit_log.c.category, "none")
        by_cd = _filtered(
            select(audit_log.c.action, cat, audit_log.c.decision, func.count()),
            since=since,
        ).where(audit_log.c.action.in_(("request", "response")))
        by_cd = by_cd.group_by(audit_log.c.action, cat, audit_log.c.decision)
        channels = _filtered(
            select(audit_log.c.channel, func.count().label("n")), since=since, action="request"
        ).group_by(audit_log.c.channel).order_by(desc("n"), audit_log.c.channel)
        channels = channels.limit(top_channels)
        with self._db.read("computing stats") as conn:
            rows = conn.execute(by_cd).all()
            busiest = tuple((str(c), int(n)) for c, n in conn.execute(channels))
        counts: dict[tuple[str, str], int] = {}
        per_decision: dict[str, int] = {}
        for action, category, decision, n in rows:
            counts[(category, decision)] = counts.get((category, decision), 0) + int(n)
            if action == "request":
                per_decision[decision] = per_decision.get(decision, 0) + int(n)
        requests = sum(per_decision.values())
        refused = per_decision.get("refuse", 0)
        return Stats(
            since=since,
            requests=requests,
            refused=refused,
            reviewed=per_decision.get("review", 0),
            allowed=per_decision.get("allow", 0),
            refusal_rate=refused / requests if requests else 0.0,
            by_category_decision=counts,
            busiest_channels=busiest,
        )

    def iter_records(
        self, since: datetime | None = None, category: str | None = None
    ) -> Iterator[AuditRecord]:
        """All matching records, oldest first, streamed (server-side cursor)."""
        stmt = _filtered(select(audit_log), category=category, since=since)
        stmt = stmt.order_by(audit_log.c.seq)
        with self._db.read("exporting the audit log", stream_results=True,
                           yield_per=EXPORT_BATCH) as conn:
            for row in conn.execute(stmt):
                yield to_record(row)

    def export(
        self,
        out: TextIO,
        fmt: str = "jsonl",
        since: datetime | None = None,
        category: str | None = None,
    ) -> int:
        """Write matching records to `out` as JSON lines or CSV; returns the count."""
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
        n = 0
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for record in self.iter_records(since, category):
            data = record.to_dict()
            if writer is not None:
                writer.writerow(data)
            else:
                out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
        return n
