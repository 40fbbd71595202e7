"""Real processes: kill -9 right after record() returned loses nothing; several
processes extend one chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.settings import Settings
from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys, threading
from bot.settings import Settings
from bot.store import Store
from bot.types import AuditEntry

url, tag, threads, per_thread = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = Store.open(Settings(database_url=url, audit_salt="salt-for-tests"))
out = threading.Lock()

def work(t):
    for i in range(per_thread):
        rid = f"{tag}-{t}-{i}"
        seq = store.record(AuditEntry(action="request", request_id=rid, team="T", channel="C",
                                      user="U", profile="standard", decision="refuse",
                                      text="x" * 200))
        with out:  # the decision is reported only after record() returned
            sys.stdout.write(f"{seq} {rid}\n")
            sys.stdout.flush()

ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for th in ts: th.start()
for th in ts: th.join()
print("done", flush=True)
"""


def _spawn(url: str, tag: str, threads: int, per_thread: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, tag, str(threads), str(per_thread)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_kill_9_right_after_record_loses_nothing(make_settings: Callable[..., Settings]) -> None:
    url = make_settings().database_url
    Store.open(make_settings()).close()  # schema in place before the child starts
    child = _spawn(url, "kill", threads=8, per_thread=100_000)
    assert child.stdout is not None
    acknowledged: dict[int, str] = {}
    for line in child.stdout:
        seq, rid = line.split()
        acknowledged[int(seq)] = rid
        if len(acknowledged) >= 300:
            os.kill(child.pid, signal.SIGKILL)  # mid-stream: other writes are in flight
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    with Store.open(make_settings()) as store:
        stored = {r.seq: r.request_id for r in store.iter_records()}
        result = store.verify()
    missing = {s: r for s, r in acknowledged.items() if stored.get(s) != r}
    assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
    assert result.ok, result.message
    assert result.checked >= len(acknowledged)


def test_processes_share_one_chain(make_settings: Callable[..., Settings]) -> None:
    url = make_settings().database_url
    Store.open(make_settings()).close()
    children = [_spawn(url, f"p{k}", threads=4, per_thread=40) for k in range(3)]
    seqs: list[int] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        seqs += [int(line.split()[0]) for line in out.splitlines() if line != "done"]
    assert sorted(seqs) == list(range(1, 3 * 4 * 40 + 1))
    with Store.open(make_settings()) as store:
        result = store.verify()
    assert result.ok and result.checked == 480
