"""Audit log on both backends: chain, tamper detection, purge, privacy, concurrency."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.cli import main
from bot.settings import Settings
from bot.store import Store
from bot.store.chain import row_hash
from bot.store.models import to_us
from tests.store.helpers import T0, entry

RawSQL = Callable[..., list[tuple[object, ...]]]


def fill(store: Store, n: int = 20) -> list[int]:
    decisions = ("allow", "refuse", "review", "allow")
    return [
        store.record(entry(i, decision=decisions[i % 4], category="malware" if i % 4 else None,
                           text=f"text {i}"), now=T0 + timedelta(minutes=i))
        for i in range(n)
    ]


def test_chain_verifies(store: Store) -> None:
    seqs = fill(store, 20)
    assert seqs == list(range(1, 21))
    result = store.verify()
    assert result.ok, result.message
    assert (result.checked, result.first_seq, result.head_seq) == (20, 1, 20)


def test_empty_log_verifies(store: Store) -> None:
    result = store.verify()
    assert result.ok and result.checked == 0 and result.head_seq == 0


def test_verify_catches_update(store: Store, raw_sql: RawSQL) -> None:
    fill(store)
    raw_sql("UPDATE audit_log SET decision = 'allow' WHERE seq = 7")
    result = store.verify()
    assert not result.ok
    assert (result.bad_seq, result.problem) == (7, "edited")


def test_verify_catches_update_with_rehash(store: Store, raw_sql: RawSQL) -> None:
    """An editor who recomputes the edited record's own hash still breaks the next link."""
    fill(store)
    raw_sql("UPDATE audit_log SET decision = 'allow', category = NULL WHERE seq = 8")
    row = store.query_audit(limit=1, offset=20 - 8)[0]
    assert row.seq == 8
    forged = row_hash({
        "seq": 8, "ts_us": to_us(row.ts), "action": row.action, "request_id": row.request_id,
        "team": row.team, "channel": row.channel, "user_id": row.user, "profile": row.profile,
        "policy_version": row.policy_version, "category": row.category,
        "decision": row.decision, "stage": row.stage, "score": row.score, "model": row.model,
        "latency_ms": row.latency_ms, "text": row.text, "text_hash": row.text_hash,
        "detail": row.detail, "review_id": row.review_id, "prev_hash": row.prev_hash,
    })
    raw_sql("UPDATE audit_log SET hash = %s WHERE seq = 8", (forged,))
    result = store.verify()
    assert not result.ok
    assert (result.bad_seq, result.problem) == (8, "edited")


def test_verify_catches_delete(store: Store, raw_sql: RawSQL) -> None:
    fill(store)
    raw_sql("DELETE FROM audit_log WHERE seq = 5")
    result = store.verify()
    assert (result.ok, result.bad_seq, result.problem) == (False, 5, "deleted")


def test_verify_catches_delete_of_the_tail(store: Store, raw_sql: RawSQL) -> None:
    fill(store)
    raw_sql("DELETE FROM audit_log WHERE seq >= 19")
    result = store.verify()
    assert (result.ok, result.bad_seq, result.problem) == (False, 19, "deleted")


def test_verify_catches_delete_of_the_head(store: Store, raw_sql: RawSQL) -> None:
    fill(store)
    raw_sql("DELETE FROM audit_log WHERE seq <= 3")
    result = store.verify()
    assert (result.ok, result.problem) == (False, "deleted")


def test_verify_catches_insert(store: Store, raw_sql: RawSQL) -> None:
    fill(store)
    last = store.query_audit(limit=1)[0]
    # a well-formed record, correctly chained and hashed by someone who knows the format
    values = {
        "seq": 21, "ts_us": to_us(last.ts) + 1, "action": "request", "request_id": "forged",
        "team": "T1", "channel": "C1", "user_id": "U9", "profile": "standard",
        "policy_version": "pv1", "category": None, "decision": "allow", "stage": "rules",
        "score": 0.0, "model": "m1", "latency_ms": 1.0, "text": None, "text_hash": None,
        "detail": "", "review_id": None, "prev_hash": last.hash,
    }
    values["hash"] = row_hash(values)
    cols = ", ".join(values)
    raw_sql(f"INSERT INTO audit_log ({cols}) VALUES ({', '.join(['%s'] * len(values))})",
            tuple(values.values()))
    result = store.verify()
    assert (result.ok, result.bad_seq, result.problem) == (False, 21, "inserted")


def test_cli_verify_exit_codes(
    store: Store, raw_sql: RawSQL, make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    fill(store, 5)
    monkeypatch.setenv("DATABASE_URL", make_settings().database_url)
    assert main(["--env-file", "/nonexistent", "audit", "verify"]) == 0
    assert "ok: 5 records verified" in capsys.readouterr().out
    raw_sql("UPDATE audit_log SET user_id = 'U2' WHERE seq = 3")
    assert main(["--env-file", "/nonexistent", "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "record 3 edited" in err


def test_purge_writes_checkpoint_and_chain_still_verifies(store: Store, raw_sql: RawSQL) -> None:
    fill(store, 30)  # one per minute from T0
    now = T0 + timedelta(days=10, minutes=15)
    deleted = store.purge(now=now, retention_days=10)  # cutoff T0+15min: seqs 1..15 go
    assert deleted == 15
    result = store.verify()
    assert result.ok, result.message
    assert result.first_seq == 16 and result.checked == 16  # 15 kept + checkpoint
    checkpoint = store.query_audit(limit=1)[0]
    assert checkpoint.action == "checkpoint"
    detail = json.loads(checkpoint.detail)
    assert detail["purged_through"] == 15 and detail["purged_count"] == 15
    # later records keep chaining after the checkpoint; a second purge also verifies
    store.record(entry(99), now=now)
    assert store.purge(now=now + timedelta(minutes=10), retention_days=10) == 10  # minutes 15..24
    assert store.verify().ok
    # nothing old left: purge is a no-op and writes no checkpoint
    head = store.verify().head_seq
    assert store.purge(now=now + timedelta(minutes=10), retention_days=10) == 0
    assert store.verify().head_seq == head
    # deleting the first kept record behind the app's back is still caught
    first = store.verify().first_seq
    raw_sql("DELETE FROM audit_log WHERE seq = %s", (first,))
    assert store.verify().problem == "deleted"


def test_purge_disabled_when_retention_is_zero(store: Store) -> None:
    fill(store, 3)
    assert store.purge(now=T0 + timedelta(days=3650), retention_days=0) == 0
    assert store.verify().checked == 3


def test_text_mode_flagged_keeps_only_refused_and_reviewed(store: Store) -> None:
    store.record(entry(1, decision="allow", text="hello alice@example.com"))
    store.record(entry(2, decision="refuse", text="hack alice@example.com"))
    store.record(entry(3, decision="review", text="card 4111 1111 1111 1111"))
    allow, refuse, review = sorted(store.query_audit(), key=lambda r: r.seq)
    assert allow.text is None and allow.text_hash and len(allow.text_hash) == 64
    assert refuse.text == "hack [email]"
    assert review.text == "card [card]"


@pytest.mark.parametrize("mode", ["none", "all"])
def test_text_modes_none_and_all(make_settings: Callable[..., Settings], mode: str) -> None:
    with Store.open(make_settings(audit_text=mode)) as store:
        store.record(entry(1, decision="allow", text="hi bob@example.com"))
        store.record(entry(2, decision="refuse", text="bad 10.0.0.1"))
        allow, refuse = sorted(store.query_audit(), key=lambda r: r.seq)
    if mode == "none":
        assert allow.text is None and refuse.text is None
    else:
        assert allow.text == "hi [email]" and refuse.text == "bad [ip]"
    assert allow.text_hash and refuse.text_hash


def test_text_hash_is_salted(make_settings: Callable[..., Settings]) -> None:
    with Store.open(make_settings(audit_salt="salt-one-abcdef")) as store:
        store.record(entry(1, text="same text"))
        h1 = store.query_audit()[0].text_hash
    with Store.open(make_settings(audit_salt="salt-two-abcdef")) as store:
        store.record(entry(2, text="same text"))
        h2 = store.query_audit(limit=1)[0].text_hash
    assert h1 and h2 and h1 != h2


def test_generated_salt_is_persisted(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(audit_salt="")
    with Store.open(settings) as a, Store.open(settings) as b:
        a.record(entry(1, text="same text"))
        b.record(entry(2, text="same text"))
    with Store.open(settings) as c:
        c.record(entry(3, text="same text"))
        hashes = {r.text_hash for r in c.query_audit()}
    assert len(hashes) == 1 and None not in hashes


def test_secrets_never_written(
    make_settings: Callable[..., Settings], raw_sql: RawSQL
) -> None:
    bot_token = "xoxb-111-222-SECRETsecret"
    api_key = "odd-looking-api-key-value-42"
    settings = make_settings(audit_text="all", slack_bot_token=bot_token, llm_api_key=api_key)
    with Store.open(settings) as store:
        store.record(entry(1, decision="allow", text=f"my key {api_key} and {bot_token}",
                           detail=f"admin pasted {api_key}"))
        store.record(entry(2, decision="refuse", text="AKIAIOSFODNN7EXAMPLE",
                           detail="Bearer abcdefghijklmnop"))
        rows = raw_sql("SELECT * FROM audit_log")
    dump = repr(rows)
    for leaked in (bot_token, api_key, "AKIAIOSFODNN7EXAMPLE", "abcdefghijklmnop"):
        assert leaked not in dump


def test_hostile_text_is_stored_and_verifies(store: Store) -> None:
    store.record(entry(1, decision="refuse", text="nul\x00byte \ud800 surrogate é 漢字 \u202e"))
    store.record(entry(2, decision="refuse", text="x" * 100_000, detail="d" * 10_000))
    long_id = entry(3)
    store.record(type(long_id)(**{**long_id.__dict__, "request_id": "r" * 500}))
    assert store.verify().ok
    texts = [r.text or "" for r in store.query_audit()]
    assert any("漢字" in t for t in texts)
    assert all(len(t) <= 20_000 for t in texts)


def test_concurrent_records_from_50_threads(store: Store) -> None:
    per_thread, threads = 20, 50
    results: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                results[t].append(store.record(entry(t * 1000 + i, user=f"U{t}")))
        except BaseException as e:  # surfaced below
            errors.append(e)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, threads * per_thread + 1))
    result = store.verify()
    assert result.ok and result.checked == threads * per_thread
    ids = {r.request_id for r in store.query_audit(limit=1000)}
    assert len(ids) == threads * per_thread


def test_two_store_instances_share_one_chain(make_settings: Callable[..., Settings]) -> None:
    """Two pools on one database (as two replicas would have) interleave safely."""
    settings = make_settings()
    with Store.open(settings) as a, Store.open(settings) as b:
        def work(store: Store, base: int) -> None:
            for i in range(100):
                store.record(entry(base + i))

        ts = [threading.Thread(target=work, args=(s, k * 1000))
              for k, s in enumerate((a, b, a, b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        result = a.verify()
    assert result.ok and result.checked == 400


def test_export_jsonl_and_csv_with_filters(store: Store) -> None:
    fill(store, 12)
    out = io.StringIO()
    assert store.export(out, "jsonl") == 12
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, 13))
    assert lines[0]["ts"].endswith("Z") and "hash" in lines[0]

    out = io.StringIO()
    n = store.export(out, "csv", since=T0 + timedelta(minutes=6), category="malware")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert n == len(rows) == 5  # minutes 6..11 with a category: 6, 7, 9, 10, 11
    assert all(r["category"] == "malware" for r in rows)
    with pytest.raises(ValueError):
        store.export(io.StringIO(), "xml")


def test_cli_export(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(store, 4)
    monkeypatch.setenv("DATABASE_URL", make_settings().database_url)
    assert main(["--env-file", "/nonexistent", "audit", "export", "--format", "jsonl",
                 "--since", "2026-01-01T12:02:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [3, 4]
    assert main(["--env-file", "/nonexistent", "audit", "export", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


def test_queries_and_stats(store: Store) -> None:
    store.record(entry(1, decision="allow", user="UA", channel="C1"))
    store.record(entry(2, decision="refuse", user="UA", channel="C1", category="malware"))
    store.record(entry(3, decision="refuse", user="UB", channel="C2", category="weapons"))
    store.record(entry(4, decision="review", user="UB", channel="C1", category="malware"))
    store.record(entry(5, decision="allow", user="UB", channel="C1", action="response"))
    assert [r.seq for r in store.query_audit(user="UA")] == [2, 1]
    assert [r.seq for r in store.query_audit(category="malware")] == [4, 2]
    assert [r.seq for r in store.query_audit(limit=2, offset=1)] == [4, 3]
    assert store.count_audit(user="UB") == 3
    assert [r.seq for r in store.recent_for_user("UB", 5)] == [4, 3]  # requests only
    stats = store.stats()
    assert (stats.requests, stats.refused, stats.reviewed, stats.allowed) == (4, 2, 1, 1)
    assert stats.refusal_rate == 0.5
    assert stats.by_category_decision[("malware", "refuse")] == 1
    assert stats.by_category_decision[("none", "allow")] == 2
    assert stats.busiest_channels == (("C1", 3), ("C2", 1))


def test_verify_while_writers_append(store: Store) -> None:
    """Verify sees one consistent snapshot even as the chain grows under it."""
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            store.record(entry(i))
            i += 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        results = [store.verify()]
        while len(results) < 15 or results[-1].checked < 200:  # overlap with the writers
            results.append(store.verify())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert store.verify().ok


def test_cli_purge(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(store, 6)  # dated T0, long before "now"
    store.record(entry(100))  # now
    monkeypatch.setenv("DATABASE_URL", make_settings().database_url)
    monkeypatch.setenv("REDLINE_RETENTION_DAYS", "0")
    assert main(["--env-file", "/nonexistent", "audit", "purge"]) == 0
    assert "nothing purged" in capsys.readouterr().out
    monkeypatch.setenv("REDLINE_RETENTION_DAYS", "30")
    assert main(["--env-file", "/nonexistent", "audit", "purge"]) == 0
    assert "purged 6 records older than 30 days; checkpoint written" in capsys.readouterr().out
    result = store.verify()
    assert result.ok and result.first_seq == 7 and result.checked == 2
    assert main(["--env-file", "/nonexistent", "audit", "verify"]) == 0
    assert "earlier ones purged" in capsys.readouterr().out


def test_writers_on_separate_instances_take_turns(
    make_settings: Callable[..., Settings],
) -> None:
    """Each instance's idea of the chain head goes stale when the other writes (on
    PostgreSQL the compare-and-set append then re-reads the head and retries)."""
    with Store.open(make_settings()) as a, Store.open(make_settings()) as b:
        seqs = [a.record(entry(1)), b.record(entry(2)), a.record(entry(3)),
                a.record(entry(4)), b.record(entry(5))]
        a.set_channel_profile("C9", "standard", "UADMIN")  # a non-batched writer too
        seqs.append(b.record(entry(6)))
        assert seqs == [1, 2, 3, 4, 5, 7]
        assert a.verify().ok


def test_locked_fallback_path(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no compare-and-set attempts left the leader queues on the head lock."""
    import bot.store.audit as audit_module

    monkeypatch.setattr(audit_module, "PG_CAS_TRIES", 0)
    assert [store.record(entry(i)) for i in range(5)] == [1, 2, 3, 4, 5]
    assert store.verify().ok


def test_large_appends_span_batches(store: Store) -> None:
    """Callers whose rows straddle the batch cap still all complete (lead hand-off)."""
    from bot.store.audit import MAX_BATCH

    results: list[list[int]] = []
    lock = threading.Lock()

    def append(k: int) -> None:
        rows = [store.audit.prepare(entry(k * 10_000 + i)) for i in range(MAX_BATCH // 2 + 7)]
        seqs = store.audit.append_rows(rows)
        with lock:
            results.append(seqs)

    threads = [threading.Thread(target=append, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 5
    for seqs in results:  # each caller's rows are consecutive in the chain
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sorted(s for r in results for s in r) == list(range(1, 5 * (MAX_BATCH // 2 + 7) + 1))
    assert store.verify().ok
