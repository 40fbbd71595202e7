"""SQLite fast path for appending to the chain, on the leader's own sqlite3 connection.

Same transaction as everywhere else (BEGIN IMMEDIATE takes SQLite's single write lock,
so the head read here is the head, across threads and processes), issued straight to the
driver: five statements cost tens of microseconds instead of SQLAlchemy's hundreds.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from bot.store.chain import CONTENT_FIELDS, chain_rows

COLUMNS: tuple[str, ...] = (*CONTENT_FIELDS, "prev_hash", "hash")
INSERT = (
    f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join(['?'] * len(COLUMNS))})"
)


def append(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Commit rows onto the chain in one transaction; returns their seqs. The connection
    must be in autocommit mode (isolation_level None), as the engine configures it."""
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        seq, digest = cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        new_seq, new_hash = chain_rows(rows, (int(seq), str(digest)))
        cur.executemany(INSERT, [tuple(row[c] for c in COLUMNS) for row in rows])
        cur.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (new_seq, new_hash))
        cur.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            cur.execute("ROLLBACK")
        raise
    finally:
        cur.close()
    return [row["seq"] for row in rows]
