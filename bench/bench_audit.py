"""Audit log benchmark: writes/s, added latency per request, verify time.

    .venv/bin/python bench/bench_audit.py          # both backends; verify 1M on SQLite
    .venv/bin/python bench/bench_audit.py --verify-records 100000 \
        --verify-backends sqlite,postgresql
    .venv/bin/python bench/bench_audit.py --backends sqlite --verify-records 0
    .venv/bin/python bench/bench_audit.py --sqlite-sync normal   # no fsync per commit

Latency: 50 threads act as 50 concurrent requests. Each "request" does simulated work
(a random sleep, default 20–100 ms, standing in for the policy engine, the model call
and Slack I/O; a real request with a model call takes far longer) and then audits
its decision. The same loop with a no-op audit, in the same run, is the baseline; the
added latency is the time the request spends in `record()` (and the end-to-end request
percentiles are printed next to the baseline's).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bot.settings import Settings  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.types import AuditEntry  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def sample_entry(i: int) -> AuditEntry:
    decision = "refuse" if i % 10 == 0 else "allow"
    return AuditEntry(
        action="request", request_id=f"req-{i}", team="T012AB3C4", channel="C0123ABCD",
        user=f"U{i % 200:07d}", profile="standard", decision=decision,
        category="malware" if decision == "refuse" else None, stage="classifier",
        score=0.8731, policy_version="3f2a9c", model="gpt-x", latency_ms=12.5,
        text="Can you help me write a script that emails alice@example.com every morning? "
        * 2,
    )


class Backend:
    def __init__(
        self, name: str, pg_url: str, tmp: Path, sqlite_sync: str = "full",
        pg_sync_commit: str = "on",
    ) -> None:
        self.name = name
        self.schema = ""
        if name == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
            self.url += f"?synchronous={sqlite_sync}"
        else:
            self.schema = f"redline_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{self.schema}"')
            options = f"-csearch_path={self.schema} -csynchronous_commit={pg_sync_commit}"
            self.url = f"{pg_url}?options={quote(options)}"
        self.pg_url = pg_url

    def settings(self) -> Settings:
        return Settings(database_url=self.url, audit_salt="bench-salt-0123456789")

    def drop(self) -> None:
        if self.schema:
            with psycopg.connect(self.pg_url.replace("+psycopg", ""), autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def run_threads(n: int, target: Callable[[int], None]) -> float:
    barrier = threading.Barrier(n + 1)

    def wrapped(k: int) -> None:
        barrier.wait()
        target(k)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def bench_throughput(store: Store, writers: int, total: int) -> float:
    per = total // writers

    def work(k: int) -> None:
        for i in range(per):
            store.record(sample_entry(k * per + i))

    elapsed = run_threads(writers, work)
    return per * writers / elapsed


def bench_latency(
    store: Store | None, writers: int, per_writer: int, records_per_request: int, seed: int,
    work_ms: tuple[float, float],
) -> tuple[list[float], list[float]]:
    """Returns (request durations, audit durations) in ms."""
    requests: list[float] = []
    audits: list[float] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        mine_r: list[float] = []
        mine_a: list[float] = []
        for i in range(per_writer):
            t0 = time.perf_counter()
            time.sleep(rng.uniform(*work_ms) / 1000)  # the rest of the request
            t1 = time.perf_counter()
            for j in range(records_per_request):
                entry = sample_entry(k * per_writer + i)
                if store is not None:
                    store.record(entry)
                else:
                    _ = entry  # no-op audit: same allocation, no write
                _ = j
            t2 = time.perf_counter()
            mine_r.append((t2 - t0) * 1000)
            mine_a.append((t2 - t1) * 1000)
        with lock:
            requests.extend(mine_r)
            audits.extend(mine_a)

    run_threads(writers, work)
    return requests, audits


def fsync_probe(directory: Path, n: int = 200) -> tuple[float, float]:
    """p50/p99 of one 4 KiB write + fdatasync here: the floor under any durable commit."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    times = []
    try:
        for i in range(n):
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return pct(times, 50), pct(times, 99)


def populate(store: Store, n: int, batch: int = 20_000) -> float:
    """Append n records quickly (large transactions straight onto the chain)."""
    started = time.perf_counter()
    template = store.audit.prepare(sample_entry(0))
    done = 0
    while done < n:
        size = min(batch, n - done)
        rows = []
        for i in range(size):
            row = dict(template)
            row["request_id"] = f"req-{done + i}"
            row["ts_us"] = template["ts_us"] + done + i
            rows.append(row)
        with store._db.write("bench populate") as conn:  # noqa: SLF001 (bench only)
            store.audit.extend_chain(conn, rows)
        done += size
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--writers", type=int, default=50)
    ap.add_argument("--throughput-records", type=int, default=20_000)
    ap.add_argument("--requests-per-writer", type=int, default=60)
    ap.add_argument("--records-per-request", type=int, default=1,
                    help="audit records per request (the ask flow writes 1-2)")
    ap.add_argument("--sqlite-sync", choices=("full", "normal"), default="full",
                    help="normal: no fsync per commit (shows the software's own cost)")
    ap.add_argument("--pg-sync-commit", choices=("on", "off"), default="on",
                    help="off: commit without waiting for the WAL flush (bench only)")
    ap.add_argument("--work-ms", default="20,100",
                    help="min,max of each request's other work (sleep), ms")
    ap.add_argument("--repeat", type=int, default=1, help="latency runs per backend")
    ap.add_argument("--verify-records", type=int, default=1_000_000)
    ap.add_argument("--verify-backends", default="sqlite")
    args = ap.parse_args()

    lo, hi = (float(x) for x in args.work_ms.split(","))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    verify_on = {b.strip() for b in args.verify_backends.split(",") if b.strip()}
    with tempfile.TemporaryDirectory() as tmp:
        f50, f99 = fsync_probe(Path(tmp))
        print(f"disk: fdatasync p50 {f50:.2f} ms, p99 {f99:.2f} ms; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for name in backends:
            be = Backend(name, args.pg_url, Path(tmp), args.sqlite_sync, args.pg_sync_commit)
            try:
                with Store.open(be.settings()) as store:
                    extra = (f", synchronous={args.sqlite_sync}" if name == "sqlite"
                             else f", synchronous_commit={args.pg_sync_commit}")
                    print(f"== {name}{extra}")
                    wps = bench_throughput(store, args.writers, args.throughput_records)
                    print(f"  writes/s, {args.writers} writers back-to-back: {wps:,.0f}")
                    print(f"  {args.writers} concurrent requests x {args.requests_per_writer}, "
                          f"{args.records_per_request} record(s) per request, other work "
                          f"{lo:g}-{hi:g} ms:")
                    p99s: list[float] = []
                    for run in range(args.repeat):
                        base_req, base_audit = bench_latency(
                            None, args.writers, args.requests_per_writer,
                            args.records_per_request, seed=run + 1, work_ms=(lo, hi))
                        f50, f99 = fsync_probe(Path(tmp), 50)
                        req, audit = bench_latency(
                            store, args.writers, args.requests_per_writer,
                            args.records_per_request, seed=run + 1, work_ms=(lo, hi))
                        p99s.append(pct(audit, 99))
                        print(f"   run {run + 1} (fdatasync p50 {f50:.2f} / p99 {f99:.2f} ms, "
                              f"load {os.getloadavg()[0]:.1f})")
                        print(f"    added by audit (time in record()): "
                              f"p50 {pct(audit, 50):.2f} ms  p99 {pct(audit, 99):.2f} ms  "
                              f"max {max(audit):.2f} ms")
                        print(f"    baseline no-op audit:            p50 "
                              f"{pct(base_audit, 50):.3f} ms  p99 {pct(base_audit, 99):.3f} ms")
                        print(f"    request end-to-end: baseline p50 {pct(base_req, 50):.2f} / "
                              f"p99 {pct(base_req, 99):.2f} ms; with audit p50 "
                              f"{pct(req, 50):.2f} / p99 {pct(req, 99):.2f} ms (mean "
                              f"+{statistics.mean(req) - statistics.mean(base_req):.2f} ms)")
                    if args.repeat > 1:
                        print(f"  added p99 over {args.repeat} runs: median "
                              f"{statistics.median(p99s):.2f} ms, best {min(p99s):.2f}, "
                              f"worst {max(p99s):.2f}")
                    result = store.verify()
                    print(f"  chain after the run: ok={result.ok}, {result.checked:,} records")
                    if name in verify_on and args.verify_records > 0:
                        have = result.checked
                        need = max(0, args.verify_records - have)
                        took = populate(store, need)
                        print(f"  populated {need:,} records in {took:.1f} s")
                        result = store.verify()
                        print(f"  verify {result.checked:,} records: {result.elapsed_s:.1f} s "
                              f"({result.checked / result.elapsed_s:,.0f} records/s), "
                              f"ok={result.ok}")
            finally:
                be.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
