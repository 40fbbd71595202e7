"""The database away at start and mid-run: a clear StoreUnavailable, then recovery."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.cli import main
from bot.settings import Settings
from bot.store import ReviewRefused, Store, StoreUnavailable
from tests.pg_schema import PgSchema
from tests.store.helpers import entry
from tests.store.tcp_proxy import TcpProxy


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sqlite_unreachable_at_open(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/no/such/dir/redline.db")
    with pytest.raises(StoreUnavailable) as err:
        Store.open(settings)
    message = str(err.value)
    assert "\n" not in message and "unable to open database file" in message


def test_postgresql_unreachable_at_open() -> None:
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{_closed_port()}/test"
    with pytest.raises(StoreUnavailable) as err:
        Store.open(Settings(database_url=url))
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message
    assert "cannot reach the database" in message


def test_unsupported_url() -> None:
    with pytest.raises(StoreUnavailable):
        Store.open(Settings(database_url="mysql://x@localhost/db"))


def test_cli_database_down_is_one_line_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{_closed_port()}/x")
    for command in (["db", "upgrade"], ["audit", "verify"], ["audit", "export"]):
        assert main(["--env-file", "/nonexistent", *command]) == 3
        err = capsys.readouterr().err.strip()
        assert err.startswith("redline: cannot reach the database") and "\n" not in err
        assert "Traceback" not in err


def test_db_upgrade_cli(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", make_settings().database_url)
    assert main(["--env-file", "/nonexistent", "db", "upgrade"]) == 0
    assert "upgraded from version 0 to 1" in capsys.readouterr().out
    assert main(["--env-file", "/nonexistent", "db", "upgrade"]) == 0
    assert "up to date (version 1)" in capsys.readouterr().out


def test_postgresql_down_mid_run_fails_closed_then_recovers() -> None:
    schema = PgSchema()
    real = make_url(schema.url)
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    store = Store.open(replace(Settings(database_url=url), review_ttl_h=1.0))
    try:
        assert store.record(entry(1)) == 1
        item = store.create_review(request_id="r", team="T", channel="C", thread_ts="1.2",
                                   user="UREQ", text="t", category="privacy")
        proxy.down()
        assert not store.ping()
        calls: list[Callable[[], object]] = [
            lambda: store.record(entry(2)),
            lambda: store.claim_event("Ev1"),
            lambda: store.decide_review(item.id, "UREV", True),
            lambda: store.query_audit(),
            lambda: store.verify(),
            lambda: store.channel_profile("C1"),
        ]
        for call in calls:  # every path fails closed with the store's own error
            with pytest.raises(StoreUnavailable) as err:
                call()
            assert "\n" not in str(err.value)
        # concurrent writers grouped into one failing commit: each one gets the error
        outcomes: list[str] = []

        def write(i: int) -> None:
            try:
                store.record(entry(100 + i))
                outcomes.append("written")
            except StoreUnavailable:
                outcomes.append("unavailable")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert outcomes == ["unavailable"] * 20
        proxy.up()
        # no restart: the pool notices dead connections (pre-ping) and reconnects
        assert store.ping()
        assert store.record(entry(3)) == 3  # 2 is the queued review; the failed write left no gap
        assert store.claim_event("Ev1")
        got, won = store.decide_review(item.id, "UREV", True)
        assert won and got.status == "approved"
        with pytest.raises(ReviewRefused):
            store.decide_review("missing", "UREV", True)
        assert store.verify().ok
    finally:
        store.close()
        proxy.down()
        schema.drop()


def test_sqlite_file_removed_mid_run_fails_closed(tmp_path: Path) -> None:
    """SQLite has no server to lose; the closest fault is the directory going away."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    store = Store.open(Settings(database_url=f"sqlite:///{db_dir}/r.db"))
    try:
        store.record(entry(1))
        store.close()  # drop pooled connections, as a restart of the pool would
        for f in db_dir.iterdir():
            f.unlink()
        db_dir.rmdir()
        with pytest.raises(StoreUnavailable):
            store.record(entry(2))
        db_dir.mkdir()
        # the directory is back (empty): the store reconnects but the schema is gone,
        # which is reported as unavailable rather than silently starting a new chain
        with pytest.raises(StoreUnavailable):
            store.record(entry(3))
    finally:
        store.close()
