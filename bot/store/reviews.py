"""The review queue: held requests, first decision wins, expiry; every action audited.

Each action changes the review row and appends its audit record in one transaction, so
there is never a decision without its record or a record without its decision. The
decision itself is `UPDATE … WHERE status = 'pending' AND expires_us > now`: whichever
reviewer's update lands first wins, on any replica; the others see rowcount 0.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from bot.store.audit import AuditLog, clean
from bot.store.db import Database
from bot.store.errors import ReviewRefused
from bot.store.models import ReviewItem, from_us, to_us, utcnow
from bot.store.redact import Redactor
from bot.store.schema import reviews
from bot.types import AuditEntry

SELF_APPROVAL_MESSAGE = "You can't approve your own request; another reviewer has to decide."


def _item(row: Any) -> ReviewItem:
    m = row._mapping
    return ReviewItem(
        id=m["id"],
        status=m["status"],
        created_at=from_us(m["created_us"]),
        expires_at=from_us(m["expires_us"]),
        request_id=m["request_id"],
        team=m["team"],
        channel=m["channel"],
        thread_ts=m["thread_ts"],
        user=m["user_id"],
        text=m["text"],
        display_text=m["display_text"],
        category=m["category"],
        evidence=tuple(json.loads(m["evidence"])),
        summary=m["summary"],
        profile=m["profile"],
        policy_version=m["policy_version"],
        decided_by=m["decided_by"],
        decided_at=from_us(m["decided_us"]) if m["decided_us"] is not None else None,
        reason=m["reason"],
        card_channel=m["card_channel"],
        card_ts=m["card_ts"],
    )


class ReviewQueue:
    def __init__(
        self, db: Database, audit: AuditLog, redactor: Redactor, ttl_h: float
    ) -> None:
        self._db = db
        self._audit = audit
        self._redactor = redactor
        self._ttl = timedelta(hours=ttl_h)

    def _audit_in(
        self, conn: Connection, item: ReviewItem, *, decision: str, user: str, detail: str,
        now: datetime, text: str = "",
    ) -> None:
        entry = AuditEntry(
            action="review", request_id=item.request_id, team=item.team, channel=item.channel,
            user=user, profile=item.profile, decision=decision, category=item.category,
            policy_version=item.policy_version, text=text, detail=detail,
        )
        self._audit.extend_chain(conn, [self._audit.prepare(entry, review_id=item.id, now=now)])

    def create(
        self,
        *,
        request_id: str,
        team: str,
        channel: str,
        thread_ts: str,
        user: str,
        text: str,
        category: str | None,
        evidence: Sequence[str] = (),
        summary: str = "",
        profile: str = "",
        policy_version: str = "",
        now: datetime | None = None,
    ) -> ReviewItem:
        now = now or utcnow()
        redact = self._redactor.redact
        values = {
            "id": uuid.uuid4().hex[:20],
            "status": "pending",
            "created_us": to_us(now),
            "expires_us": to_us(now + self._ttl),
            "request_id": clean(request_id, 128),
            "team": clean(team, 64),
            "channel": clean(channel, 64),
            "thread_ts": clean(thread_ts, 64),
            "user_id": clean(user, 64),
            "text": clean(self._redactor.scrub_secrets(text)),
            "display_text": redact(clean(text)),
            "category": category,
            "evidence": json.dumps([redact(clean(e)) for e in evidence], ensure_ascii=False),
            "summary": redact(clean(summary)),
            "profile": clean(profile, 64),
            "policy_version": clean(policy_version, 128),
            "decided_by": None,
            "decided_us": None,
            "reason": "",
            "card_channel": "",
            "card_ts": "",
        }
        with self._db.write("queueing a review") as conn:
            self._audit.lock_head(conn)
            conn.execute(insert(reviews).values(**values))
            item = _item(conn.execute(select(reviews).where(reviews.c.id == values["id"])).one())
            self._audit_in(conn, item, decision="review", user=item.user, detail="queued",
                           now=now, text=text)
        return item

    def get(self, review_id: str) -> ReviewItem | None:
        with self._db.read("reading a review") as conn:
            row = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
        return _item(row) if row else None

    def pending(self, now: datetime | None = None, limit: int = 50) -> list[ReviewItem]:
        now_us = to_us(now or utcnow())
        stmt = (
            select(reviews)
            .where(reviews.c.status == "pending", reviews.c.expires_us > now_us)
            .order_by(reviews.c.created_us)
            .limit(limit)
        )
        with self._db.read("listing pending reviews") as conn:
            return [_item(r) for r in conn.execute(stmt)]

    def set_card(self, review_id: str, channel: str, ts: str) -> None:
        with self._db.write("recording a review card") as conn:
            conn.execute(
                update(reviews).where(reviews.c.id == review_id)
                .values(card_channel=clean(channel, 64), card_ts=clean(ts, 64))
            )

    def decide(
        self,
        review_id: str,
        reviewer: str,
        approve: bool,
        reason: str = "",
        now: datetime | None = None,
    ) -> tuple[ReviewItem, bool]:
        """First decision wins. Returns (item as it now stands, whether this call won).

        The winner's item carries the original text (for replay on approve); it is
        wiped from the database in the same transaction. Raises ReviewRefused for an
        unknown id or a requester approving their own request (that attempt is audited).
        """
        now = now or utcnow()
        now_us = to_us(now)
        outcome = "approved" if approve else "denied"
        reason = self._redactor.redact(clean(reason))[:1000]
        with self._db.write("deciding a review") as conn:
            self._audit.lock_head(conn)
            row = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
            if row is None:
                raise ReviewRefused("not_found", f"No review item {review_id!r}.")
            item = _item(row)
            if approve and reviewer == item.user:
                self._audit_in(conn, item, decision="self_approval_refused", user=reviewer,
                               detail=f"requester {reviewer} tried to approve", now=now)
                refused = True
            else:
                refused = False
                original = item.text
                won = conn.execute(
                    update(reviews)
                    .where(reviews.c.id == review_id, reviews.c.status == "pending",
                           reviews.c.expires_us > now_us)
                    .values(status=outcome, decided_by=clean(reviewer, 64), decided_us=now_us,
                            reason=reason, text="")
                ).rowcount == 1
                if not won:
                    # past its time but not yet swept: expire it now, so the card can say so
                    conn.execute(
                        update(reviews)
                        .where(reviews.c.id == review_id, reviews.c.status == "pending",
                               reviews.c.expires_us <= now_us)
                        .values(status="expired", decided_us=now_us, text="")
                    )
                after = _item(conn.execute(select(reviews).where(reviews.c.id == review_id)).one())
                if won:
                    self._audit_in(conn, after, decision=outcome, user=reviewer,
                                   detail=f"{outcome} by {reviewer}"
                                   + (f": {reason}" if reason else ""),
                                   now=now, text=original)
                else:
                    self._audit_in(conn, after, decision="too_late", user=reviewer,
                                   detail=f"{outcome} attempt after {after.status}"
                                   + (f" by {after.decided_by}" if after.decided_by else ""),
                                   now=now)
        if refused:  # raised after commit, so the refused attempt stays audited
            raise ReviewRefused("self_approval", SELF_APPROVAL_MESSAGE)
        return (replace(after, text=original) if won else after), won

    def expire(self, now: datetime | None = None) -> list[ReviewItem]:
        """Expire pending items past their time; returns the ones this call expired."""
        now = now or utcnow()
        now_us = to_us(now)
        expired: list[ReviewItem] = []
        with self._db.write("expiring reviews") as conn:
            self._audit.lock_head(conn)
            due = conn.execute(
                select(reviews.c.id)
                .where(reviews.c.status == "pending", reviews.c.expires_us <= now_us)
                .order_by(reviews.c.created_us)
            ).scalars().all()
            for review_id in due:
                took = conn.execute(
                    update(reviews)
                    .where(reviews.c.id == review_id, reviews.c.status == "pending")
                    .values(status="expired", decided_us=now_us, text="")
                ).rowcount == 1
                if not took:  # another replica expired it first
                    continue
                item = _item(conn.execute(select(reviews).where(reviews.c.id == review_id)).one())
                self._audit_in(conn, item, decision="expired", user=item.user,
                               detail="no decision in time", now=now)
                expired.append(item)
        return expired
