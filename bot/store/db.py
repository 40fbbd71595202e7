"""Engine construction for SQLite and PostgreSQL, and the mapping of driver errors.

SQLite: one file in WAL mode (readers never block the writer), busy_timeout so that
processes sharing the file queue instead of failing, and synchronous=FULL: in WAL mode
that fsyncs the log at every commit, so a committed audit record survives power loss and
an OS crash, not only a killed process (NORMAL would only guarantee the latter). Commits
are grouped (see audit.py), so the fsync is paid once per batch, not once per request.
Write transactions start with BEGIN IMMEDIATE so that the chain head is read and advanced
under SQLite's single write lock, across threads and processes.

PostgreSQL: psycopg 3, pool_pre_ping so a pool whose connections died with the server
reconnects by itself once the server is back.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Table, event, exc
from sqlalchemy import create_engine as _create_engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from bot.store.errors import StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 5
PG_TCP_USER_TIMEOUT_MS = 15_000
PG_LOCK_TIMEOUT_MS = 10_000


def normalize_url(raw: str) -> URL:
    """Parse DATABASE_URL; plain postgresql:// means psycopg 3 (the driver we ship)."""
    try:
        url = make_url(raw)
    except exc.ArgumentError as e:
        raise StoreUnavailable(f"DATABASE_URL is not a database URL: {e}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreUnavailable(
            f"DATABASE_URL backend {url.get_backend_name()!r} is not supported "
            "(use sqlite:///file.db or postgresql+psycopg://…)"
        )
    return url


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def create_engine(raw_url: str) -> Engine:
    url = normalize_url(raw_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # Bound every wait, so a request fails closed instead of hanging: connecting, a
    # peer that vanished without a reset (TCP user timeout, keepalives), a lock held by
    # a stuck session (lock_timeout, set per connection below).
    defaults: dict[str, object] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "tcp_user_timeout": PG_TCP_USER_TIMEOUT_MS,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    connect_args = {k: v for k, v in defaults.items() if k not in url.query}
    engine = _create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=40,
        pool_timeout=10,
        connect_args=connect_args,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET lock_timeout = '{PG_LOCK_TIMEOUT_MS}ms'")
        cur.close()
        dbapi_conn.commit()

    return engine


def _sqlite_engine(url: URL) -> Engine:
    # ?synchronous=normal trades power-loss durability of the last commits for no fsync
    # per commit (a killed process still loses nothing in WAL mode); default FULL.
    synchronous = str(url.query.get("synchronous", "full")).upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise StoreUnavailable("DATABASE_URL: synchronous must be full or normal")
    url = url.difference_update_query(["synchronous"])
    memory = url.database in (None, "", ":memory:")
    if memory:
        engine = _create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = _create_engine(
            url,
            pool_size=8,
            max_overflow=56,
            pool_timeout=10,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Driver in autocommit; we emit BEGIN ourselves (below) to choose IMMEDIATE.
        dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:  # no commit pays for a checkpoint; WalCheckpointer does them
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def describe(error: BaseException) -> str:
    """One line for a driver error: the driver's own first line, without SQL or params."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


@contextlib.contextmanager
def guarded(what: str, url: URL) -> Iterator[None]:
    """Turn driver and pool failures into StoreUnavailable (callers fail closed)."""
    try:
        yield
    except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as e:
        raise StoreUnavailable(
            f"database unavailable while {what} ({safe_url(url)}): {describe(e)}"
        ) from e


class WalCheckpointer:
    """Checkpoints a SQLite WAL from a background thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold,
    copying pages and fsyncing the database file while that request waits: it was the
    p99 of audit writes. Connections turn it off; this thread runs PASSIVE checkpoints
    (they never block readers or writers) on its own connection every `interval_s`; small
    and frequent, so that no single checkpoint flush stalls the commits behind it.
    """

    def __init__(self, path: str, interval_s: float = 0.25) -> None:
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="redline-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self._interval):
            try:
                if conn is None:
                    conn = sqlite3.connect(self._path, isolation_level=None, timeout=1.0)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # file gone or busy: try again next tick
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class Database:
    """An engine plus the two ways in: a read transaction and a write transaction."""

    def __init__(self, raw_url: str) -> None:
        self.url = normalize_url(raw_url)
        self.engine = create_engine(raw_url)
        self.dialect = self.url.get_backend_name()  # "sqlite" | "postgresql"
        file_db = self.dialect == "sqlite" and self.url.database not in (None, "", ":memory:")
        self._checkpointer = WalCheckpointer(str(self.url.database)) if file_db else None

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    @contextlib.contextmanager
    def read(self, what: str, snapshot: bool = False, **options: object) -> Iterator[Connection]:
        """A read transaction. snapshot=True: every statement sees the same snapshot."""
        if snapshot and self.dialect == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with guarded(what, self.url), self.engine.connect() as conn:
            if options:
                conn = conn.execution_options(**options)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """One transaction holding the write lock on SQLite (BEGIN IMMEDIATE)."""
        with guarded(what, self.url), self.engine.connect() as raw:
            conn = raw.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def guard(self, what: str) -> contextlib.AbstractContextManager[None]:
        return guarded(what, self.url)

    def writer_connection(self) -> Connection:
        """A connection to hold for repeated write transactions (the audit leader's).
        Raises StoreUnavailable."""
        with guarded("connecting", self.url):
            return self.engine.connect().execution_options(sqlite_immediate=True)

    def insert(self, table: Table) -> Any:
        """A dialect insert, so callers can use on_conflict_do_nothing / do_update."""
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
