"""Store fixtures: every `store` test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/test (override with
REDLINE_TEST_PG_URL). Each test gets its own schema (search_path via the URL's
`options`), dropped afterwards. If PostgreSQL is not reachable the tests fail, loudly:
CI starts it, and a store that was only tested on SQLite is not tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.store import Store
from tests.pg_schema import PgSchema

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'redline.db'}"
        return
    schema = PgSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def raw_sql(database_url: str) -> Callable[..., list[tuple[object, ...]]]:
    """Run SQL directly on the test database (not through the store)."""
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.removeprefix("sqlite:///")

        def run(statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
            conn = sqlite3.connect(path)
            try:
                rows = conn.execute(statement.replace("%s", "?"), params).fetchall()
                conn.commit()
                return rows
            finally:
                conn.close()

        return run
    name = database_url.split("search_path%3D", 1)[1]
    schema = PgSchema.__new__(PgSchema)
    schema.name = name
    return schema.sql


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        base = Settings(database_url=database_url, audit_salt="test-salt-value-123")
        return replace(base, **overrides)  # type: ignore[arg-type]

    return make


@pytest.fixture
def store(make_settings: Callable[..., Settings]) -> Iterator[Store]:
    s = Store.open(make_settings())
    try:
        yield s
    finally:
        s.close()
