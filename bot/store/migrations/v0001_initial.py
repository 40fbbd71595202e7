"""Migration 1: audit log with hash chain head, reviews, channel profiles, dedupe, rates.

Table definitions are frozen here (not imported from schema.py) so that later changes
to the current schema never change what this step did.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)

DESCRIPTION = "audit log, audit head, reviews, channel profiles, events, rate counters"


def apply(conn: Connection) -> None:
    md = MetaData()
    Table(
        "redline_meta", md,
        Column("key", String(64), primary_key=True),
        Column("value", Text, nullable=False),
    )
    Table(
        "audit_log", md,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("ts_us", BigInteger, nullable=False),
        Column("action", String(32), nullable=False),
        Column("request_id", String(128), nullable=False),
        Column("team", String(64), nullable=False),
        Column("channel", String(64), nullable=False),
        Column("user_id", String(64), nullable=False),
        Column("profile", String(64), nullable=False),
        Column("policy_version", String(128), nullable=False),
        Column("category", String(64)),
        Column("decision", String(32), nullable=False),
        Column("stage", String(32), nullable=False),
        Column("score", Float(53), nullable=False),
        Column("model", String(128), nullable=False),
        Column("latency_ms", Float(53), nullable=False),
        Column("text", Text),
        Column("text_hash", String(64)),
        Column("detail", Text, nullable=False),
        Column("review_id", String(64)),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index("ix_audit_log_ts", "ts_us"),
        Index("ix_audit_log_user", "user_id", "seq"),
        Index("ix_audit_log_category", "category", "seq"),
        Index("ix_audit_log_request", "request_id"),
        Index("ix_audit_log_review", "review_id"),
    )
    head = Table(
        "audit_head", md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
    )
    Table(
        "reviews", md,
        Column("id", String(64), primary_key=True),
        Column("status", String(16), nullable=False),
        Column("created_us", BigInteger, nullable=False),
        Column("expires_us", BigInteger, nullable=False),
        Column("request_id", String(128), nullable=False),
        Column("team", String(64), nullable=False),
        Column("channel", String(64), nullable=False),
        Column("thread_ts", String(64), nullable=False),
        Column("user_id", String(64), nullable=False),
        Column("text", Text, nullable=False),
        Column("display_text", Text, nullable=False),
        Column("category", String(64)),
        Column("evidence", Text, nullable=False),
        Column("summary", Text, nullable=False),
        Column("profile", String(64), nullable=False),
        Column("policy_version", String(128), nullable=False),
        Column("decided_by", String(64)),
        Column("decided_us", BigInteger),
        Column("reason", Text, nullable=False),
        Column("card_channel", String(64), nullable=False),
        Column("card_ts", String(64), nullable=False),
        Index("ix_reviews_status_expires", "status", "expires_us"),
        Index("ix_reviews_request", "request_id"),
    )
    Table(
        "channel_profiles", md,
        Column("channel", String(64), primary_key=True),
        Column("profile", String(64), nullable=False),
        Column("set_by", String(64), nullable=False),
        Column("set_us", BigInteger, nullable=False),
    )
    Table(
        "events", md,
        Column("key", String(255), primary_key=True),
        Column("claimed_us", BigInteger, nullable=False),
        Index("ix_events_claimed", "claimed_us"),
    )
    Table(
        "rate_counters", md,
        Column("key", String(255), primary_key=True),
        Column("window_us", BigInteger, primary_key=True, autoincrement=False),
        Column("count", Integer, nullable=False),
        Index("ix_rate_counters_window", "window_us"),
    )
    md.create_all(conn)
    conn.execute(insert(head).values(id=1, seq=0, hash="0" * 64))
