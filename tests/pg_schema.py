"""A throw-away PostgreSQL schema per test (search_path in the URL's `options`), for the
store, review, reliability tests and the load benchmark.

PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/test (override with
REDLINE_TEST_PG_URL). If it is not reachable the tests fail, loudly: CI starts it, and a
store that was only tested on SQLite is not tested.
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

PG_URL = os.environ.get(
    "REDLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_HOST_PORT = "127.0.0.1:5432"


def pg_conninfo(url: str = PG_URL) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(pg_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({str(e).strip().splitlines()[0]}). "
            "These tests need it: start PostgreSQL (CI does) or set REDLINE_TEST_PG_URL.",
            pytrace=False,
        )


class PgSchema:
    """A schema of its own; `url` points the app at it via search_path. Drop it after."""

    def __init__(self, prefix: str = "redline_test") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = self.url_via(PG_HOST_PORT)

    def url_via(self, host_port: str) -> str:
        """The schema's URL through another address (e.g. a TcpProxy)."""
        base = PG_URL.replace(PG_HOST_PORT, host_port, 1)
        return f"{base}?options={quote(f'-csearch_path={self.name}')}"

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Raw SQL behind the app's back."""
        with psycopg.connect(pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.name}"')
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def drop(self) -> None:
        with _pg_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
