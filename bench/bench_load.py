"""Two replicas behind a "load balancer", sharing PostgreSQL, under Slack's delivery pattern.

    .venv/bin/python bench/bench_load.py [--events 1000] [--retry-fraction 0.2]
        [--concurrency 50] [--rounds 3] [--answer-processes 1] [--client-processes 5]
        [--rate N]

Starts a fake Slack Web API and a fake streaming model on 127.0.0.1, a fresh PostgreSQL
schema, and two `python -m bot serve` processes (HTTP mode, waitress, the real app with
its classifier, `REDLINE_ANSWER_PROCESSES=--answer-processes`) on two loopback ports,
both on that schema. Then, `--rounds` times, sends `--events` fresh signed Events API
deliveries with `--concurrency` in flight, shared by `--client-processes` client
processes (so the load generator's own GIL neither slows the sending nor adds to the
measured latency): a fraction `--retry-fraction` of them are Slack-style retries (same
body and event_id, `X-Slack-Retry-Num: 1`) of an earlier event, sent to the *other*
replica than the original, soon after it (often while it is still being answered).

Prints per round: ack latency p50/p95/p99/max (client side, request sent -> HTTP answer)
for all deliveries, originals and retries, plus a baseline measured in the same run (the
same replicas, idle: one delivery every 50 ms, before the load); the replicas' own ack
histogram from /metrics; unique events; answers posted; duplicate answers; lost events
(no answer); model calls; how long after the last ack every event had its answer. Then
the median of the rounds' ack p99.
No assertions: figures only (targets: 0 duplicates, 0 lost, ack p99 <= 100 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bot.metrics import parse  # noqa: E402
from tests.fakes.model_server import (  # noqa: E402
    FakeModelServer,
    RecordedRequest,
    Reply,
    default_chunks,
    default_text,
)
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, all_text, event_body, sign  # noqa: E402
from tests.pg_schema import PgSchema  # noqa: E402


@dataclass(frozen=True)
class Shot:
    """One delivery: which replica, the raw body, its headers, and what it is."""

    replica: int
    body: str
    headers: dict[str, str]
    event_index: int
    retry: bool


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  "
        f"p99 {percentile(ms, 99):6.1f} ms  max {max(ms, default=float('nan')):6.1f} ms  "
        f"(n={len(ms)})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_replica(
    port: int,
    slack: FakeSlack,
    model: FakeModelServer,
    database_url: str,
    workdir: Path,
    answer_processes: int,
    http_threads: int,
) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.base_url,
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": model.base_url,
        "LLM_MODEL": model.model,
        "LLM_API_KEY": "sk-bench-key-000000000000",
        "LLM_TIMEOUT_S": "20",
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REDLINE_LOG_LEVEL": "warning",
        "REDLINE_ANSWER_PROCESSES": str(answer_processes),
        "REDLINE_HTTP_THREADS": str(http_threads),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--env-file", str(workdir / "none.env"), "serve"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise SystemExit(f"replica on port {port} exited: {err[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"replica on port {port} did not start in {timeout:.0f}s")


def fire(
    ports: list[int], shots: list[Shot], indices: list[int], threads: int, rate: float,
    start_at: float,
) -> list[tuple[int, float, float, int]]:
    """In a client process: send `shots[i]` for each i in `indices` from `threads` threads,
    each on its own keep-alive connection per replica (opened beforehand), none before
    `start_at` (wall clock, shared by the client processes); with `rate` > 0, shot i is
    not sent before start_at + i / rate (an open loop, as Slack's deliveries arrive).
    Returns
    (index, sent_at, latency, status); sent_at is time.time()."""
    results: list[tuple[int, float, float, int]] = []
    lock = threading.Lock()
    next_index = iter(indices)

    def worker() -> None:
        # Connected before the start, as a load balancer keeps its connections open:
        # the load generator's own start-up (threads, sockets) stays out of the timing.
        conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports}
        for conn in conns.values():
            conn.connect()
        time.sleep(max(0.0, start_at - time.time()))
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            if rate > 0:
                delay = start_at + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            shot = shots[i]
            port = ports[shot.replica]
            conn = conns[port]
            sent_wall = time.time()
            started = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=shot.body.encode(),
                             headers=shot.headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            latency = time.perf_counter() - started
            with lock:
                results.append((i, sent_wall, latency, status))
        for conn in conns.values():
            conn.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return results


def fire_from(
    pool: ProcessPoolExecutor, processes: int, ports: list[int], shots: list[Shot],
    concurrency: int, rate: float,
) -> tuple[list[tuple[int, float, float, int]], float]:
    """Split the shots (interleaved) and the in-flight budget over `processes` client
    processes, so the load generator's own GIL does not add to the measured latency.
    Returns the results in shot order and the wall time from the common start."""
    processes = max(1, min(processes, concurrency))
    start_at = time.time() + 1.0  # every client process is up before the first shot
    futures = [
        pool.submit(
            fire, ports, shots, list(range(k, len(shots), processes)),
            concurrency // processes + (1 if k < concurrency % processes else 0),
            rate, start_at,
        )
        for k in range(processes)
    ]
    results = sorted(r for f in futures for r in f.result())
    return results, time.time() - start_at


def server_ack_buckets(ports: list[int]) -> dict[float, float]:
    """Cumulative count of /slack/events answers per histogram bound, summed over the
    replicas' /metrics: the server's own view of the ack (WSGI in -> answer out)."""
    totals: dict[float, float] = {}
    for port in ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        for sample in parse(text):
            if (sample.name == "redline_http_request_seconds_bucket"
                    and sample.labels.get("route") == "/slack/events"):
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
    return totals


def build_shots(
    n: int, retry_fraction: float, secret: str, rng: random.Random
) -> tuple[list[dict], list[Shot]]:
    """`n` deliveries: originals round-robin over the replicas, and retries of an original
    sent a few positions after it, to the other replica."""
    n_retries = int(round(n * retry_fraction))
    n_unique = n - n_retries
    events = [
        event_body(
            "event_app_mention.json",
            text=f"<@{BOT_USER_ID}> load question {i}: what makes a good runbook?",
            channel=f"C0LOAD{i % 10:03d}",
        )
        for i in range(n_unique)
    ]
    originals = [(i, i % 2, False) for i in range(n_unique)]
    order: list[tuple[int, int, bool]] = list(originals)
    for i in rng.sample(range(n_unique), n_retries):
        pos = order.index((i, i % 2, False)) + rng.randint(1, 60)  # soon after: often in flight
        order.insert(min(pos, len(order)), (i, 1 - i % 2, True))
    shots: list[Shot] = []
    for i, replica, retry in order:
        raw = json.dumps(events[i])
        headers = {"Content-Type": "application/json", **sign(secret, raw)}
        if retry:
            headers.update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
        shots.append(Shot(replica, raw, headers, i, retry))
    return events, shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--retry-fraction", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=50, help="deliveries in flight")
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="deliveries per second (open loop); 0 = as fast as the replicas answer",
    )
    parser.add_argument("--baseline", type=int, default=40, help="sequential deliveries first")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="s between model chunks")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="load rounds of --events each (fresh events), against the same replicas",
    )
    parser.add_argument("--http-threads", type=int, default=8, help="REDLINE_HTTP_THREADS")
    parser.add_argument(
        "--client-processes", type=int, default=5,
        help="load generator processes sharing the in-flight budget",
    )
    parser.add_argument(
        "--answer-processes", type=int, default=1,
        help="REDLINE_ANSWER_PROCESSES per replica (0: answer in the serving process)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    def responder(req: RecordedRequest) -> Reply:
        text = default_text(req.last_user_text)
        return Reply(chunks=default_chunks(text), delay_between_chunks=args.chunk_delay)

    with FakeSlack() as slack, FakeModelServer() as model, tempfile.TemporaryDirectory() as tmp:
        model.responder = responder
        schema = PgSchema()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ports = [free_port(), free_port()]
            for port in ports:
                procs.append(start_replica(
                    port, slack, model, schema.url, Path(tmp), args.answer_processes,
                    args.http_threads,
                ))
            for port, proc in zip(ports, procs, strict=True):
                wait_ready(port, proc)
            print(f"replicas: 127.0.0.1:{ports[0]} and 127.0.0.1:{ports[1]}, "
                  f"PostgreSQL schema {schema.name}")

            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=args.client_processes, mp_context=spawn) as client:
                # Baseline: the same replicas, idle: one delivery every 50 ms.
                base_events, base_shots = build_shots(args.baseline, 0.0, slack.signing_secret,
                                                      rng)
                base, _ = fire_from(client, 1, ports, base_shots, 1, 20.0)
                wait_answers(slack, base_events, timeout=60)
                p99s: list[float] = []
                for round_no in range(1, args.rounds + 1):
                    slack.clear()
                    calls_before = model.model_calls
                    events, shots = build_shots(args.events, args.retry_fraction,
                                                slack.signing_secret, rng)
                    before = server_ack_buckets(ports)
                    results, sent_s = fire_from(
                        client, args.client_processes, ports, shots, args.concurrency, args.rate
                    )
                    after = server_ack_buckets(ports)
                    drained = wait_answers(slack, events, timeout=args.drain_timeout)
                    model_calls = model.model_calls - calls_before
                    print(f"\n--- round {round_no} of {args.rounds}")
                    report(args, events, shots, results, base, slack, model_calls, sent_s,
                           drained)
                    server_side = {b: after[b] - before.get(b, 0.0) for b in after}
                    total = max(1.0, server_side.get(math.inf, 0.0))
                    print("server side (replicas' /metrics, ack histogram): " + "  ".join(
                        f"<= {b * 1000:g} ms {n / total:.1%}"
                        for b, n in sorted(server_side.items()) if b in (0.005, 0.025, 0.1)
                    ))
                    p99s.append(percentile([lat * 1000 for _, _, lat, _ in results], 99))
            print(f"\nack p99 per round: {', '.join(f'{v:.1f}' for v in p99s)} ms; "
                  f"median {statistics.median(p99s):.1f} ms (target <= 100 ms)")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            schema.drop()
    return 0


def answers_by_event(slack: FakeSlack, events: list[dict]) -> dict[int, list[dict]]:
    index = {(e["event"]["channel"], e["event"]["ts"]): i for i, e in enumerate(events)}
    out: dict[int, list[dict]] = {i: [] for i in range(len(events))}
    for msg in slack.bot_messages():
        key = (msg.get("channel"), msg.get("thread_ts"))
        if key in index and "You said" in all_text(msg):
            out[index[key]].append(msg)
    return out


def wait_answers(slack: FakeSlack, events: list[dict], timeout: float) -> float:
    """Wait until every event has an answer, or nothing changed for 15 s, or `timeout`."""
    started = time.monotonic()
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() - started < timeout:
        count = sum(1 for v in answers_by_event(slack, events).values() if v)
        if count == len(events):
            break
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 15:
            break
        time.sleep(0.5)
    time.sleep(1.0)  # let late duplicates (if any) arrive before counting
    return time.monotonic() - started


def report(
    args: argparse.Namespace, events: list[dict], shots: list[Shot],
    results: list[tuple[int, float, float, int]], base: list[tuple[int, float, float, int]],
    slack: FakeSlack, model_calls: int, sent_s: float, drained_s: float,
) -> None:
    latencies = [lat for _, _, lat, _ in results]
    originals = [lat for i, _, lat, _ in results if not shots[i].retry]
    retries = [lat for i, _, lat, _ in results if shots[i].retry]
    statuses: dict[int, int] = {}
    for *_, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    answers = answers_by_event(slack, events)
    posted = sum(len(v) for v in answers.values())
    duplicates = sum(max(0, len(v) - 1) for v in answers.values())
    lost = sum(1 for v in answers.values() if not v)
    n_retries = sum(1 for s in shots if s.retry)
    cpu = os.cpu_count()
    load1 = os.getloadavg()[0]
    pace = f"{args.rate:g}/s offered" if args.rate > 0 else "closed loop"
    print(f"\nload: {len(shots)} deliveries ({len(events)} events + {n_retries} retries to the "
          f"other replica), up to {args.concurrency} in flight ({pace}), 2 replicas "
          f"(answer processes each: {args.answer_processes}), "
          f"{cpu} CPUs, load average {load1:.1f} at the end (other work on the machine "
          "skews these figures)")
    print(f"sent in {sent_s:.1f} s ({len(shots) / sent_s:.0f} deliveries/s); "
          f"HTTP statuses {dict(sorted(statuses.items()))}")
    print(f"baseline ack (idle replicas, 20/s):        {fmt_ms([b[2] for b in base])}")
    print(f"ack, all deliveries:                       {fmt_ms(latencies)}")
    print(f"ack, originals:                            {fmt_ms(originals)}")
    print(f"ack, retries:                              {fmt_ms(retries)}")
    print(f"unique events: {len(events)}  answers posted: {posted}  "
          f"duplicates: {duplicates}  lost: {lost}  model calls: {model_calls}")
    print(f"all answered {drained_s:.1f} s after the last delivery was acked")


if __name__ == "__main__":
    sys.exit(main())
