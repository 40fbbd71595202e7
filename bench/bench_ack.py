"""Slack ack latency and time to answer, HTTP mode, the way `redline serve` runs.

    .venv/bin/python bench/bench_ack.py [--rounds 5] [--concurrency 50] [--in-process]

Starts a fake Slack Web API and a fake streaming model on 127.0.0.1, then runs
`python -m bot serve` (waitress, the real app, policy engine with its classifier, SQLite
store) in a child process pointed at them. Sends `--concurrency` signed app_mention events
at once, `--rounds` times, plus one Slack-style retry (X-Slack-Retry-Num) of some events.

Prints:
- ack latency p50/p99 (client-side, request sent → HTTP answer), and a baseline in the
  same run: GET /healthz at the same concurrency (the server without Bolt);
- every event answered exactly once (one model call, one answer message per thread);
- time from the model's first chunk to the first visible text in Slack (the fake model
  sends a first chunk long enough to pass the guard's hold-back at once), and from the
  event to the full answer;
- resident memory of the server after start (classifier loaded) and after the load.
No assertions on speed: figures only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.fakes.model_server import FakeModelServer, RecordedRequest, Reply  # noqa: E402
from tests.fakes.slack_api import FakeSlack, all_text, event_body, sign  # noqa: E402
from tests.procs import child_pids  # noqa: E402

FIRST_CHUNK = (
    "Here is a short overview. Good meeting notes list the decisions, the owners and the "
    "dates; they are sent within a day and kept in one shared place so the whole team can "
    "find them. Start with the purpose of the meeting, then the decisions, then the open "
    "questions with a name next to each. Keep it short: one screen is plenty. "
)
TAIL_CHUNKS = [f"Point {i}: keep each item to one line and link the details. " for i in range(8)]
END_MARK = "Point 7"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50) * 1000:7.1f} ms   p99 {percentile(values, 99) * 1000:7.1f} ms"
        f"   max {max(values) * 1000:7.1f} ms   (n={len(values)})"
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """RSS of the server and its answer processes (its children), and how many."""
    pids = [pid, *sorted(child_pids(pid))]
    total = 0.0
    for p in pids:
        with contextlib.suppress(OSError):  # a process that just ended
            total += rss_mb(p)
    return total, len(pids)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    slack: FakeSlack, model: FakeModelServer, workdir: Path, http_threads: int | None = None,
    answer_processes: int = 0,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LLM_", "REDLINE_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.base_url,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": model.base_url,
            "LLM_MODEL": model.model,
            "LLM_API_KEY": "sk-bench-key-000000",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "REDLINE_LOG_LEVEL": "warning",
            "REDLINE_ANSWER_PROCESSES": str(answer_processes),
        }
    )
    if http_threads:
        env["REDLINE_HTTP_THREADS"] = str(http_threads)
    with open(workdir / "serve.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--env-file", "/nonexistent/.env", "serve"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited: {(workdir / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("server did not start within 120 s")


Shot = tuple[str, str, bytes, dict[str, str]]  # method, path, body, headers


def fire(port: int, shots: list[Shot]) -> list[tuple[float, float, int]]:
    """Send all `shots` at once from one thread each, over connections opened beforehand;
    return (sent at, latency, status) per shot (times on CLOCK_MONOTONIC, which every
    process shares on Linux). Runs in its own process so that the fakes (which
    share the benchmark's interpreter) do not steal the load generator's GIL."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in shots]
    for conn in conns:
        conn.connect()
    barrier = threading.Barrier(len(shots))

    def one(i: int) -> tuple[float, float, int]:
        method, path, body, headers = shots[i]
        barrier.wait()
        t = time.perf_counter()
        conns[i].request(method, path, body=body or None, headers=headers)
        resp = conns[i].getresponse()
        resp.read()
        return t, time.perf_counter() - t, resp.status

    with ThreadPoolExecutor(max_workers=len(shots)) as pool:
        out = list(pool.map(one, range(len(shots))))
    for conn in conns:
        conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--retries", type=int, default=10, help="events re-sent as Slack retries")
    parser.add_argument("--http-threads", type=int, help="REDLINE_HTTP_THREADS for the server")
    parser.add_argument("--answer-processes", type=int, default=0,
                        help="REDLINE_ANSWER_PROCESSES for the server")
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="send each burst while the previous burst's answers still stream (busier server)",
    )
    args = parser.parse_args()

    model_first_chunk_at: dict[str, float] = {}
    lock = threading.Lock()

    def responder(req: RecordedRequest) -> Reply:
        with lock:
            model_first_chunk_at.setdefault(req.last_user_text, req.received_at)
        return Reply(chunks=[FIRST_CHUNK, *TAIL_CHUNKS], delay_between_chunks=0.05)

    with FakeSlack() as slack, FakeModelServer() as model, tempfile.TemporaryDirectory() as tmp:
        model.responder = responder
        t0 = time.monotonic()
        proc, url = start_server(
            slack, model, Path(tmp), args.http_threads, args.answer_processes
        )
        start_s = time.monotonic() - t0
        time.sleep(3.0)  # answer processes load their own classifier after /healthz is up
        rss_start, n_procs = tree_rss_mb(proc.pid)
        client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=200))
        try:
            acks: list[float] = []
            health: list[float] = []
            statuses: list[int] = []
            sent: dict[str, tuple[float, dict]] = {}  # text -> (sent at, body)

            port = int(url.rsplit(":", 1)[1])

            def answered(s: FakeSlack) -> int:
                return sum(1 for m in s.bot_messages() if END_MARK in m["text"])

            health_shot: Shot = ("GET", "/healthz", b"", {})

            def event_shots(round_no: int, n: int) -> tuple[list[str], list[Shot]]:
                shots: list[Shot] = []
                texts: list[str] = []
                for i in range(n):
                    text = f"bench r{round_no} e{i}: how do I write good meeting notes?"
                    body = event_body(
                        "event_app_mention.json",
                        text=f"<@{slack.bot_user_id}> {text}",
                        channel="C0BENCH01",
                        ts=slack.next_ts(),
                    )
                    raw = json.dumps(body).encode()
                    headers = {
                        "Content-Type": "application/json",
                        **sign(slack.signing_secret, raw),
                    }
                    sent[text] = (time.monotonic(), body)
                    texts.append(text)
                    shots.append(("POST", "/slack/events", raw, headers))
                return texts, shots

            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as loader:
                loader.submit(fire, port, [health_shot] * 5).result()  # warm-up, not counted
                loader.submit(fire, port, event_shots(-1, 3)[1]).result()
                for round_no in range(args.rounds):
                    results = loader.submit(fire, port, [health_shot] * args.concurrency).result()
                    health += [lat for _, lat, _ in results]
                    texts, shots = event_shots(round_no, args.concurrency)
                    for text, (at, lat, status) in zip(
                        texts, loader.submit(fire, port, shots).result(), strict=True
                    ):
                        sent[text] = (at, sent[text][1])
                        acks.append(lat)
                        statuses.append(status)
                    if not args.overlap:  # next burst hits an idle server
                        slack.wait_for(lambda s: answered(s) >= len(sent), timeout=120)
                        time.sleep(0.3)

            # Slack-style retries of already-delivered events: must not answer again.
            retried = list(sent.values())[: args.retries]
            for _, body in retried:
                raw = json.dumps(body)
                headers = {
                    "Content-Type": "application/json",
                    "X-Slack-Retry-Num": "1",
                    "X-Slack-Retry-Reason": "http_timeout",
                    **sign(slack.signing_secret, raw),
                }
                statuses.append(
                    client.post(f"{url}/slack/events", content=raw, headers=headers).status_code
                )

            # Wait for every answer to finish (the last tail chunk shown).
            total = len(sent)

            slack.wait_for(lambda s: answered(s) >= total, timeout=180)
            time.sleep(1.0)  # let any duplicate (there should be none) show up
            rss_after, _ = tree_rss_mb(proc.pid)

            # Per thread: answers, first visible text, full answer.
            updates = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]
            ts_of_message: dict[str, str] = {}  # message ts -> thread ts
            for m in slack.bot_messages():
                if m.get("thread_ts"):
                    ts_of_message[m["ts"]] = m["thread_ts"]
            first_visible: dict[str, float] = {}
            full: dict[str, float] = {}
            for call in updates:
                if call.status != 200:
                    continue
                thread = call.params.get("thread_ts") or ts_of_message.get(
                    call.params.get("ts", "")
                )
                text = all_text(call.params)
                if not thread or FIRST_CHUNK[:40] not in text:
                    continue
                first_visible.setdefault(thread, call.at)
                if END_MARK in text:
                    full.setdefault(thread, call.at)

            answers_per_thread: dict[str, int] = {}
            for m in slack.bot_messages():
                if END_MARK in m["text"]:
                    answers_per_thread[m["thread_ts"]] = (
                        answers_per_thread.get(m["thread_ts"], 0) + 1
                    )
            model_calls_per_text: dict[str, int] = {}
            for r in model.requests:
                model_calls_per_text[r.last_user_text] = (
                    model_calls_per_text.get(r.last_user_text, 0) + 1
                )

            first_after_model: list[float] = []
            event_to_full: list[float] = []
            # perf_counter and monotonic share CLOCK_MONOTONIC on Linux.
            for text, (sent_at, body) in sent.items():
                if text.startswith("bench r-1 "):
                    continue  # warm-up events: first-use costs, not steady state
                thread = body["event"]["ts"]
                if thread in first_visible and text in model_first_chunk_at:
                    first_after_model.append(first_visible[thread] - model_first_chunk_at[text])
                if thread in full:
                    event_to_full.append(full[thread] - sent_at)

            exactly_once = sum(
                1
                for text, (_, body) in sent.items()
                if answers_per_thread.get(body["event"]["ts"]) == 1
                and model_calls_per_text.get(text) == 1
            )
            print(
                f"redline serve (HTTP, waitress) started in {start_s:.1f} s; "
                f"RSS after start {rss_start:.0f} MB, after load {rss_after:.0f} MB "
                f"({n_procs} process(es): the server, and any answer processes with "
                "multiprocessing's resource tracker)"
            )
            print(
                f"{args.rounds} rounds x {args.concurrency} concurrent signed app_mention events "
                f"(+{len(retried)} retries)"
            )
            print(f"  ack latency            {fmt(acks)}")
            print(f"  baseline GET /healthz  {fmt(health)}")
            print(f"  HTTP statuses          {sorted(set(statuses))}")
            print(
                f"  answered exactly once  {exactly_once}/{len(sent)} events "
                f"(model calls {model.model_calls}, answers {sum(answers_per_thread.values())})"
            )
            print(f"  first visible text after the model's first chunk  {fmt(first_after_model)}")
            print(f"  event sent -> full answer shown                   {fmt(event_to_full)}")
            print(
                f"  (model streams {1 + len(TAIL_CHUNKS)} chunks, 50 ms apart; Slack edits are "
                "throttled to ~1/s per message)"
            )
        finally:
            client.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
