"""Schema migrations: applied once, concurrently safe, newer schemas refused."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from bot.settings import Settings
from bot.store import SchemaTooNew, Store, migrate
from bot.store.migrations import LATEST

RawSQL = Callable[..., list[tuple[object, ...]]]


def test_migrate_is_idempotent(make_settings: Callable[..., Settings], raw_sql: RawSQL) -> None:
    first = migrate(make_settings())
    assert (first.before, first.after) == (0, LATEST) and first.applied
    second = migrate(make_settings())
    assert (second.before, second.after, second.applied) == (LATEST, LATEST, ())
    assert raw_sql("SELECT count(*) FROM redline_schema_version") == [(LATEST,)]
    assert raw_sql("SELECT seq FROM audit_head") == [(0,)]


def test_concurrent_starts_apply_once(
    make_settings: Callable[..., Settings], raw_sql: RawSQL
) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        try:
            barrier.wait()
            Store.open(make_settings()).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert raw_sql("SELECT count(*) FROM audit_head") == [(1,)]
    assert raw_sql("SELECT count(*) FROM redline_schema_version") == [(LATEST,)]


def test_newer_schema_is_refused(make_settings: Callable[..., Settings], raw_sql: RawSQL) -> None:
    migrate(make_settings())
    raw_sql("INSERT INTO redline_schema_version (version, description, applied_us) "
            "VALUES (%s, 'from the future', 0)", (LATEST + 1,))
    with pytest.raises(SchemaTooNew) as err:
        Store.open(make_settings())
    assert "upgrade Redline" in str(err.value)
