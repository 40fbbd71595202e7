"""Engine settings and round-trips that the hash chain depends on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import Settings
from bot.store import Store
from bot.store.db import Database
from bot.types import AuditEntry


def _pragmas(url: str) -> tuple[str, int, int, int]:
    db = Database(url)
    try:
        with db.read("pragmas") as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            auto = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        return str(mode), int(sync), int(busy), int(auto)
    finally:
        db.dispose()


def test_sqlite_wal_full_and_busy_timeout(tmp_path: Path) -> None:
    # 2 = FULL; automatic checkpoints off (the background checkpointer does them)
    assert _pragmas(f"sqlite:///{tmp_path}/a.db") == ("wal", 2, 10_000, 0)
    assert _pragmas(f"sqlite:///{tmp_path}/b.db?synchronous=normal")[1] == 1


def test_sqlite_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    """Commits never checkpoint, yet the data reaches the main file: the thread does it."""
    path = tmp_path / "c.db"
    with Store.open(Settings(database_url=f"sqlite:///{path}")) as store:
        before = path.stat().st_size
        for i in range(300):
            store.record(AuditEntry(action="request", request_id=str(i), team="T", channel="C",
                                    user="U", profile="standard", decision="refuse",
                                    text="x" * 500))
        deadline = time.monotonic() + 10
        while path.stat().st_size <= before + 100_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > before + 100_000


def test_plain_postgresql_url_means_psycopg() -> None:
    db = Database("postgresql://u@127.0.0.1:1/x")
    assert db.url.drivername == "postgresql+psycopg"
    db.dispose()


_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=200)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(_text, _text, st.floats(0, 1), st.floats(0, 1e6)),
                      min_size=1, max_size=4))
def test_any_text_round_trips_and_verifies(
    make_settings: Callable[..., Settings], texts: list[tuple[str, str, float, float]]
) -> None:
    """What the database hands back must hash exactly as what was written."""
    with Store.open(make_settings(audit_text="all")) as store:
        for text, detail, score, latency in texts:
            store.record(AuditEntry(
                action="request", request_id=detail[:40], team="T", channel=text[:20],
                user="U", profile="standard", decision="refuse", category=text[:10] or None,
                score=score, latency_ms=latency, text=text, detail=detail,
            ))
        result = store.verify()
        assert result.ok, result.message
