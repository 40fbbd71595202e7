"""The audit log's write path: privacy reduction, group commit onto the hash chain,
verification and retention purge.

Durability: `record()` returns only after the transaction holding the record committed
(SQLite WAL with synchronous=FULL, PostgreSQL's default synchronous_commit), so a process
killed right after a decision loses nothing.

Speed: concurrent callers are grouped. The first caller to find no write in progress
becomes the leader and writes every waiting entry in one transaction (one chain-head
update, one fsync); the others wait for that commit. Across processes the chain head
serializes the leaders: SQLite's write lock (BEGIN IMMEDIATE, sqlite_append.py), on
PostgreSQL a compare-and-set on the head row in one statement (pg_append.py). Review,
profile and purge transactions lock the head row first (FOR UPDATE) and extend the same
chain (`extend_chain`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from bot.settings import Settings
from bot.store import pg_append, sqlite_append
from bot.store.chain import (
    CHECKPOINT_ACTION,
    CONTENT_FIELDS,
    ChainWalker,
    chain_rows,
    parse_checkpoint,
)
from bot.store.db import Database
from bot.store.errors import StoreUnavailable
from bot.store.models import VerifyResult, to_us, utcnow
from bot.store.redact import Redactor
from bot.store.schema import audit_head, audit_log, meta
from bot.types import AuditEntry

# Decisions whose text is kept under REDLINE_AUDIT_TEXT=flagged (refused and reviewed).
FLAGGED_DECISIONS = frozenset(
    {"refuse", "review", "approved", "denied", "expired", "appeal", "retract"}
)
INSERT_COLUMNS = (*CONTENT_FIELDS, "prev_hash", "hash")
MAX_TEXT_CHARS = 20_000
MAX_DETAIL_CHARS = 2_000
_STR_LIMITS = {c.name: c.type.length for c in audit_log.columns if getattr(c.type, "length", None)}
_SALT_KEY = "audit_salt"
VERIFY_BATCH = 20_000
PG_CAS_TRIES = 8
MAX_BATCH = pg_append.MAX_ROWS


def clean(value: str, limit: int | None = None) -> str:
    """Text any backend stores byte-for-byte: no NUL (PostgreSQL refuses it), no lone
    surrogates (not UTF-8), cut to the column's length."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:limit] if limit else value


def keeps_text(mode: str, entry: AuditEntry) -> bool:
    if mode == "all":
        return True
    if mode == "flagged":
        return entry.decision in FLAGGED_DECISIONS or entry.action == "review"
    return False


@dataclass
class _Pending:
    row: dict[str, Any]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch rather than because it is done
    done: bool = False
    seq: int = 0
    error: BaseException | None = None


@dataclass
class _GroupCommit:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Pending] = field(default_factory=list)
    busy: bool = False


class AuditLog:
    def __init__(self, db: Database, settings: Settings, redactor: Redactor) -> None:
        self._db = db
        self._mode = settings.audit_text
        self._redactor = redactor
        self._salt = settings.audit_salt.encode() if settings.audit_salt else b""
        self._group = _GroupCommit()
        # used only by the current leader: its connection and, on PostgreSQL, the chain
        # head it last wrote
        self._writer: Connection | None = None
        self._head: tuple[int, str] | None = None

    # -- salt ---------------------------------------------------------------------------

    def load_salt(self) -> None:
        """REDLINE_AUDIT_SALT, or one generated once and kept in the meta table.

        INSERT … ON CONFLICT DO NOTHING then read back: replicas starting together agree.
        """
        if self._salt:
            return
        with self._db.write("loading the audit salt") as conn:
            stmt = self._db.insert(meta).values(key=_SALT_KEY, value=secrets.token_hex(32))
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
            value = conn.execute(select(meta.c.value).where(meta.c.key == _SALT_KEY)).scalar_one()
        self._salt = value.encode()

    def text_hash(self, text: str) -> str:
        return hmac.new(self._salt, clean(text).encode("utf-8"), hashlib.sha256).hexdigest()

    # -- write --------------------------------------------------------------------------

    def prepare(
        self, entry: AuditEntry, *, review_id: str | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The row as it will be stored: text reduced per REDLINE_AUDIT_TEXT and redacted,
        secrets scrubbed, sizes bounded."""
        raw = entry.text or ""
        kept = self._redactor.redact(clean(raw))[:MAX_TEXT_CHARS] if (
            raw and keeps_text(self._mode, entry)) else None
        scrub = self._redactor.scrub_secrets
        row: dict[str, Any] = {
            "ts_us": to_us(now or utcnow()),
            "action": entry.action,
            "request_id": entry.request_id,
            "team": entry.team,
            "channel": entry.channel,
            "user_id": entry.user,
            "profile": entry.profile,
            "policy_version": entry.policy_version,
            "category": entry.category,
            "decision": entry.decision,
            "stage": entry.stage,
            "model": entry.model,
            "review_id": review_id,
        }
        for key, value in row.items():
            if isinstance(value, str):
                row[key] = clean(scrub(value), _STR_LIMITS.get(key))
        row["score"] = round(float(entry.score), 6)
        row["latency_ms"] = round(float(entry.latency_ms), 3)
        row["text"] = kept
        row["text_hash"] = self.text_hash(raw) if raw else None
        row["detail"] = self._redactor.redact(clean(entry.detail))[:MAX_DETAIL_CHARS]
        return row

    def record(
        self, entry: AuditEntry, *, review_id: str | None = None, now: datetime | None = None
    ) -> int:
        """Append one record; returns its seq once committed. Raises StoreUnavailable."""
        return self.append_rows([self.prepare(entry, review_id=review_id, now=now)])[0]

    def append_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        """Group-commit prepared rows; returns their seqs (in order) after commit.

        One thread at a time is the leader: it commits everything queued so far, wakes
        those callers, and hands the lead to the oldest caller still waiting. Each caller
        is woken once (done) or twice (lead, then done), never by a broadcast.
        """
        mine = [_Pending(row) for row in rows]
        g = self._group
        with g.lock:
            g.queue.extend(mine)
            lead = not g.busy
            g.busy = True
        if not lead:
            for p in mine:  # woken because done, or handed the lead (then not done)
                p.wake.wait()
                if p.lead and not p.done:
                    lead = True
                    break
        while lead:
            with g.lock:
                batch, g.queue = g.queue[:MAX_BATCH], g.queue[MAX_BATCH:]
            self._commit_batch(batch)
            with g.lock:
                if all(p.done for p in mine):
                    if g.queue:  # hand the lead on; busy stays True
                        nxt = g.queue[0]
                        nxt.lead = True
                        nxt.wake.set()
                    else:
                        g.busy = False
                    lead = False
        for p in mine:
            if isinstance(p.error, StoreUnavailable):  # one exception object per caller
                raise StoreUnavailable(str(p.error)) from p.error
            if p.error is not None:
                raise p.error
        return [p.seq for p in mine]

    def _commit_batch(self, batch: list[_Pending]) -> None:
        try:
            seqs = self._write_rows([p.row for p in batch])
        except BaseException as e:  # every waiter learns of the failure; none hangs
            for p in batch:
                p.error, p.done = e, True
                p.wake.set()
            return
        for p, seq in zip(batch, seqs, strict=True):
            p.seq, p.done = seq, True
            p.wake.set()

    def _write_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        if self._db.dialect == "postgresql":
            return self._write_rows_pg(rows)
        return self._write_rows_sqlite(rows)

    def _write_rows_sqlite(self, rows: list[dict[str, Any]]) -> list[int]:
        """One transaction on the leader's held connection, through the driver."""
        if self._writer is None:
            self._writer = self._db.writer_connection()
        try:
            raw = self._writer.connection.driver_connection
            return sqlite_append.append(raw, rows)  # type: ignore[arg-type]
        except sqlite3.Error as e:
            self._drop_writer()
            raise StoreUnavailable(
                f"database unavailable while writing the audit log "
                f"({self._db.display_url}): {e}"
            ) from e
        except BaseException:
            self._drop_writer()
            raise

    def _write_rows_pg(self, rows: list[dict[str, Any]]) -> list[int]:
        """Compare-and-set append (pg_append), one round trip per batch when this process
        is the only writer. If the held connection dies, a fresh one first checks whether
        the batch committed before the failure, then retries once."""
        try:
            return self._append_pg(rows)
        except StoreUnavailable:
            self._drop_writer()
        with self._db.guard("writing the audit log"):
            if pg_append.landed(self._pg_writer(), rows):
                return [r["seq"] for r in rows]
        try:
            return self._append_pg(rows)
        except StoreUnavailable:
            self._drop_writer()
            raise

    def _pg_writer(self) -> Connection:
        if self._writer is None:
            self._head = None
            self._writer = self._db.writer_connection().execution_options(
                isolation_level="AUTOCOMMIT")
        return self._writer

    def _append_pg(self, rows: list[dict[str, Any]]) -> list[int]:
        conn = self._pg_writer()
        with self._db.guard("writing the audit log"):
            for _ in range(PG_CAS_TRIES):
                head = self._head or pg_append.read_head(conn)
                self._head = pg_append.try_append(conn, rows, head)
                if self._head is not None:
                    return [r["seq"] for r in rows]
        # many writers racing: queue on the head lock instead
        with self._db.write("writing the audit log") as locked:
            return self.extend_chain(locked, rows)

    def _drop_writer(self) -> None:
        conn, self._writer = self._writer, None
        self._head = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        g = self._group
        with g.lock:  # not while a leader is writing with it
            if not g.busy:
                self._drop_writer()

    @staticmethod
    def lock_head(conn: Connection) -> tuple[int, str]:
        """Lock the chain head (seq, hash). Taken first in any transaction that will also
        lock other rows (reviews), so every writer locks in the same order: no deadlocks."""
        seq, digest = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash)
            .where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        return int(seq), str(digest)

    @classmethod
    def extend_chain(
        cls, conn: Connection, rows: list[dict[str, Any]], head: tuple[int, str] | None = None
    ) -> list[int]:
        """Inside a write transaction: hash and insert rows after the head, move the head.
        `head` is what lock_head() returned in this transaction, if it was called."""
        if not rows:
            return []
        new_seq, new_hash = chain_rows(rows, head if head is not None else cls.lock_head(conn))
        # straight to the driver's executemany: the Core insert spent more time building
        # per-row parameters than the database spent inserting them
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (f"INSERT INTO audit_log ({', '.join(INSERT_COLUMNS)}) "
               f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))})")
        conn.exec_driver_sql(sql, [tuple(row[c] for c in INSERT_COLUMNS) for row in rows])
        conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=new_seq, hash=new_hash)
        )
        return [row["seq"] for row in rows]

    # -- verify -------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Walk the whole chain, streaming; report the first edited/inserted/deleted record."""
        started = time.perf_counter()
        cols = [audit_log.c[f] for f in CONTENT_FIELDS] + [
            audit_log.c.prev_hash, audit_log.c.hash]
        # one snapshot for head, checkpoints and rows (REPEATABLE READ on PostgreSQL; a
        # SQLite read transaction is one snapshot), so writers during verify don't count
        with self._db.read("verifying the audit log", snapshot=True, stream_results=True,
                           yield_per=VERIFY_BATCH) as conn:
            head_seq, head_hash = conn.execute(
                select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
            ).one()
            checkpoints: dict[int, str] = {}
            for (detail,) in conn.execute(
                select(audit_log.c.detail).where(audit_log.c.action == CHECKPOINT_ACTION)
            ):
                parsed = parse_checkpoint(detail)
                if parsed:
                    checkpoints[parsed[0]] = parsed[1]
            walker = ChainWalker(head_seq, head_hash, checkpoints)
            result = conn.execute(select(*cols).order_by(audit_log.c.seq))
            problem = walker.walk(result)
            result.close()
        elapsed = time.perf_counter() - started
        base = {
            "checked": walker.checked,
            "first_seq": walker.first_seq,
            "head_seq": head_seq,
            "head_hash": head_hash,
            "elapsed_s": elapsed,
        }
        if problem is None:
            return VerifyResult(ok=True, message=f"{walker.checked} records verified", **base)
        return VerifyResult(
            ok=False, bad_seq=problem.seq, problem=problem.problem, message=problem.message,
            **base,
        )

    # -- retention ----------------------------------------------------------------------

    def purge(self, now: datetime, retention_days: int) -> int:
        """Delete records older than the retention window; returns how many.

        The deleted prefix is replaced by a checkpoint record appended to the chain, which
        carries the hash of the last deleted record: the first kept record still links to
        something the chain vouches for, so verify passes.
        """
        if retention_days <= 0:
            return 0
        cutoff = to_us(now - timedelta(days=retention_days))
        with self._db.write("purging the audit log") as conn:
            # lock the head first: no writer may extend the chain while we cut it
            conn.execute(
                select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update()
            ).one()
            last = conn.execute(
                select(func.max(audit_log.c.seq)).where(audit_log.c.ts_us < cutoff)
            ).scalar()
            if last is None:
                return 0
            last_hash = conn.execute(
                select(audit_log.c.hash).where(audit_log.c.seq == last)
            ).scalar_one()
            deleted = conn.execute(delete(audit_log).where(audit_log.c.seq <= last)).rowcount
            detail = json.dumps(
                {"purged_through": last, "purged_count": deleted, "last_hash": last_hash,
                 "retention_days": retention_days},
                separators=(",", ":"),
            )
            checkpoint = self.prepare(
                AuditEntry(action=CHECKPOINT_ACTION, request_id="", team="", channel="",
                           user="", profile="", decision="purge"),
                now=now,
            )
            checkpoint["detail"] = detail  # not redacted: the hash would look like a secret
            self.extend_chain(conn, [checkpoint])
        return int(deleted)

    def iter_rows(
        self, conn: Connection, since_us: int | None, category: str | None
    ) -> Iterator[Any]:
        stmt = select(audit_log).order_by(audit_log.c.seq)
        if since_us is not None:
            stmt = stmt.where(audit_log.c.ts_us >= since_us)
        if category:
            stmt = stmt.where(audit_log.c.category == category)
        yield from conn.execute(stmt)
