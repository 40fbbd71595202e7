"""Versioned schema migrations: ordered steps, applied once each, recorded in a table.

A small equivalent of Alembic that ships inside the package: each step is a function
run in one transaction (DDL is transactional on both SQLite and PostgreSQL), so a step
is applied wholly or not at all. Concurrent starts are serialized: PostgreSQL takes a
transaction-scoped advisory lock, SQLite its write lock (BEGIN IMMEDIATE). A database
migrated by a newer Redline is refused rather than guessed at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, inspect, select, text

from bot.store.errors import SchemaTooNew
from bot.store.migrations import v0001_initial
from bot.store.schema import schema_version

_PG_LOCK_KEY = 0x5245444C  # "REDL": advisory lock id for migrations


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    apply: Callable[[Connection], None]


STEPS: tuple[Step, ...] = (
    Step(1, v0001_initial.DESCRIPTION, v0001_initial.apply),
)
LATEST = STEPS[-1].version


@dataclass(frozen=True)
class UpgradeResult:
    before: int
    after: int
    applied: tuple[str, ...]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema_version.name):
        return 0
    found = conn.execute(select(schema_version.c.version).order_by(
        schema_version.c.version.desc()).limit(1)).scalar()
    return int(found or 0)


def upgrade(engine: Engine) -> UpgradeResult:
    """Apply every pending step; safe to call from several processes at once."""
    applied: list[str] = []
    with engine.connect() as raw:
        conn = raw.execution_options(sqlite_immediate=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            schema_version.create(conn, checkfirst=True)
            before = current_version(conn)
        if before > LATEST:
            raise SchemaTooNew(
                f"database schema is at version {before}, newer than this Redline knows "
                f"({LATEST}); upgrade Redline"
            )
        version = before
        for step in STEPS:
            if step.version <= before:
                continue
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                if current_version(conn) >= step.version:  # another process got here first
                    continue
                step.apply(conn)
                conn.execute(insert(schema_version).values(
                    version=step.version, description=step.description,
                    applied_us=int(time.time() * 1_000_000)))
            version = step.version
            applied.append(f"{step.version}: {step.description}")
    return UpgradeResult(before=before, after=max(version, before), applied=tuple(applied))
