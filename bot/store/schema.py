"""The current shape of the tables, for queries. DDL lives in migrations/ (frozen steps)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

GENESIS_HASH = "0" * 64

meta = Table(
    "redline_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

schema_version = Table(
    "redline_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_us", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
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
)

# One row (id=1): the last seq and hash the app wrote. Writers lock it (FOR UPDATE on
# PostgreSQL; SQLite's write lock) so the chain is extended by one writer at a time.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
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
)

channel_profiles = Table(
    "channel_profiles",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("profile", String(64), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_us", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("claimed_us", BigInteger, nullable=False),
)

rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("window_us", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
)
