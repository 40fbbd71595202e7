"""Answer worker processes: Slack's acks in one process, the answering in others.

Under load, one Python process cannot both ack Slack quickly and run the policy checks
and streamed answers: they share one GIL, and an ack waits behind every CPU-bound check
(ack p99 of ~0.5-1 s at 50 deliveries in flight on two cores). With
`REDLINE_ANSWER_PROCESSES=N` (N >= 1) the serving process keeps only the edge (signature
check, Bolt's ack functions, `/healthz`, `/metrics`) and hands every piece of listener
work to N child processes:

- an Events API delivery goes over whole (its body, query and headers); the child runs
  Bolt's dispatch, so the ack function and the lazy listener both run there;
- for a slash command or an interaction, Bolt acks in the serving process and its lazy
  listener goes over as a *lazy-only* request naming the function (the same mechanism
  Bolt's AWS Lambda adapter uses); the child's Bolt app runs just that function.

Each child builds its own services and Bolt app from the same `Settings`, verifies the
signature again, and asks for work only while it runs fewer than
`listener_workers(settings)` deliveries, so the backlog waits in the serving process. A
full backlog makes the edge answer 503 (Slack retries) or, for a lazy listener whose ack
has gone, run it in the serving process: nothing is dropped. A child that dies is
replaced (it loses only what it was running, as a crashed single process would); a child
whose serving process dies sees its pipe close and exits. Children send their metrics
to the serving process once a second, so `/metrics` counts every process's decisions.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App, BoltRequest
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.internals import build_runnable_function

from bot.settings import Settings

log = logging.getLogger(__name__)

LAZY_ONLY_HEADER = "x-slack-bolt-lazy-only"
LAZY_FUNCTION_HEADER = "x-slack-bolt-lazy-function-name"
# Answers can wait a few milliseconds; acks cannot (Slack gives up after 3 s).
CHILD_NICENESS = 10
METRICS_PERIOD_S = 1.0
_STOP = None


@dataclass(frozen=True)
class Delivery:
    """One piece of listener work, as plain data that crosses the process line."""

    body: str
    query: str
    headers: dict[str, str]
    lazy_function: str | None = None  # None: a whole Events API delivery
    mode: str = "http"  # or "socket_mode": the body is the envelope's JSON payload

    def bolt_request(self) -> BoltRequest:
        headers = dict(self.headers)
        if self.lazy_function:
            headers[LAZY_ONLY_HEADER] = "1"
            headers[LAZY_FUNCTION_HEADER] = self.lazy_function
        if self.mode == "socket_mode":  # no signature: it came over the app's own socket
            return BoltRequest(body=json.loads(self.body), headers=headers, mode=self.mode)
        return BoltRequest(body=self.body, query=self.query, headers=headers)

    @classmethod
    def lazy(cls, request: BoltRequest) -> Delivery:
        """The lazy-only copy Bolt built for one lazy function, as a Delivery."""
        headers = {
            k: str(v[0] if isinstance(v, list | tuple) else v)
            for k, v in request.headers.items()
            if v and k not in (LAZY_ONLY_HEADER, LAZY_FUNCTION_HEADER)
        }
        query = urlencode(request.query or {}, doseq=True)
        body = request.raw_body if request.mode == "http" else json.dumps(request.body)
        return cls(body, query, headers, request.lazy_function_name, request.mode)


class _Child:
    """One answer process and the serving process's end of its pipe. `credit` counts the
    deliveries it has said it can start now: nothing is sent beyond that, so the
    backlog stays here, where a crash of the child cannot take it along."""

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn
        self.credit = threading.Semaphore(0)
        self._send_lock = threading.Lock()  # the feeder, and `stop` with its sentinel

    def send(self, message: Any) -> None:
        with self._send_lock:
            self.conn.send(message)

    def alive(self) -> bool:
        return bool(self.process.is_alive())


class AnswerWorkers:
    """The child processes, the bounded backlog they draw from, and their supervisor.

    A pipe per child rather than one shared multiprocessing queue: a child killed while
    waiting on a shared queue would keep its lock forever and wedge the rest.
    """

    def __init__(
        self,
        settings: Settings,
        processes: int,
        *,
        max_pending: int = 1000,
        metrics: Any = None,
        child_main: Callable[..., None] | None = None,
    ) -> None:
        self._settings = settings
        self._count = max(1, processes)
        self._ctx = multiprocessing.get_context("spawn")  # no inherited sockets or locks
        self._backlog: queue.Queue[Delivery] = queue.Queue(maxsize=max_pending)
        self._metrics = metrics
        self._child_main = child_main or run_child
        self._children: list[_Child | None] = [None] * self._count
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> AnswerWorkers:
        for slot in range(self._count):
            self._spawn(slot)
        self._supervisor = threading.Thread(
            target=self._supervise, name="redline-answer-supervisor", daemon=True
        )
        self._supervisor.start()
        return self

    def _spawn(self, slot: int) -> None:
        here, there = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=self._child_main,
            args=(self._settings, there),
            name=f"redline-answer-{slot}",
            daemon=True,
        )
        process.start()
        there.close()  # the child's end lives in the child: its death is our EOF
        child = _Child(process, here)
        self._children[slot] = child
        for target, role in ((self._feed, "feed"), (self._listen, "listen")):
            threading.Thread(
                target=target, args=(child,), name=f"redline-answer-{slot}-{role}", daemon=True
            ).start()

    def attach(self, app: App) -> None:
        """Send `app`'s lazy listeners here, and report the backlog's depth."""
        runner = app.listener_runner
        runner.lazy_listener_runner = ProcessLazyListenerRunner(self, runner.lazy_listener_runner)
        if self._metrics is not None:
            self._metrics.watch_answer_queue(self.depth)

    def submit(self, delivery: Delivery) -> bool:
        """Queue one delivery; False when the backlog is full (the caller decides)."""
        try:
            self._backlog.put_nowait(delivery)
        except queue.Full:
            return False
        return True

    def alive(self) -> int:
        return sum(1 for c in self._children if c is not None and c.alive())

    def pids(self) -> list[int]:
        return [c.process.pid for c in self._children if c is not None and c.process.pid]

    def depth(self) -> float:
        return float(self._backlog.qsize())

    def status(self) -> dict[str, int]:
        """For `/healthz`: how many were asked for, are running, were replaced."""
        return {"configured": self._count, "alive": self.alive(), "restarts": self.restarts}

    def _feed(self, child: _Child) -> None:
        """Send the child one delivery per credit, while it lives."""
        while not self._stopping.is_set() and child.alive():
            if not child.credit.acquire(timeout=0.2):
                continue
            try:
                delivery = self._backlog.get(timeout=0.2)
            except queue.Empty:
                child.credit.release()
                continue
            try:
                child.send(delivery)
            except (OSError, ValueError):  # it died just now: another child takes it
                self._backlog.put(delivery)
                return

    def _listen(self, child: _Child) -> None:
        """Credits and metrics from the child, until its end of the pipe closes."""
        while True:
            try:
                kind, payload = child.conn.recv()
            except (EOFError, OSError):
                return
            if kind == "ready":
                child.credit.release()
            elif kind == "metrics" and self._metrics is not None:
                self._metrics.registry.absorb(payload)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for slot, child in enumerate(self._children):
                if child is None or child.alive() or self._stopping.is_set():
                    continue
                log.error(
                    "answer process %s exited (code %s): starting another",
                    child.process.pid,
                    child.process.exitcode,
                )
                child.conn.close()
                self.restarts += 1
                self._spawn(slot)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop feeding; each child finishes what it holds, then exits."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(1.0)
        children = [c for c in self._children if c is not None]
        for child in children:
            with contextlib.suppress(OSError, ValueError):
                child.send(_STOP)
        deadline = time.monotonic() + timeout
        for child in children:
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                child.process.terminate()
                child.process.join(1.0)
            child.conn.close()


class ProcessLazyListenerRunner(LazyListenerRunner):
    """Bolt's lazy listeners, run in an answer process instead of a local thread.
    When the queue is full the ack has already gone, so the function runs here."""

    def __init__(self, workers: AnswerWorkers, fallback: LazyListenerRunner) -> None:
        self.logger = logging.getLogger("slack_bolt")
        self._workers = workers
        self._fallback = fallback

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        if request.lazy_function_name and self._workers.submit(Delivery.lazy(request)):
            return
        log.warning("answer queue full: running %s in the serving process", function.__name__)
        self._fallback.start(function, request)


class InlineLazyListenerRunner(LazyListenerRunner):
    """In a child: run lazy functions on the thread that dispatched the delivery, so the
    child's concurrency limit bounds the real work, not just the dispatch."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("slack_bolt")

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        build_runnable_function(func=function, logger=self.logger, request=request)()


def start_answer_workers(app: App, settings: Settings, metrics: Any) -> AnswerWorkers | None:
    """With REDLINE_ANSWER_PROCESSES >= 1: start the children, send the app's lazy
    listeners to them and watch their queue. None (answer in this process) otherwise."""
    if settings.answer_processes < 1:
        return None
    workers = AnswerWorkers(settings, settings.answer_processes, metrics=metrics).start()
    workers.attach(app)
    log.info("answering in %d child process(es)", settings.answer_processes)
    return workers


# --- in the child ----------------------------------------------------------------------------


def run_child(settings: Settings, conn: Any) -> None:
    """Entry point of an answer process: build the app, then serve the pipe."""
    from bot.app import build_counted_app, listener_workers
    from bot.logs import configure_logging
    from bot.services import build_services

    configure_logging(settings)
    with contextlib.suppress(OSError):  # not permitted: run at normal priority
        os.nice(CHILD_NICENESS)
    services = build_services(settings)
    app = build_counted_app(settings, services)
    app.listener_runner.lazy_listener_runner = InlineLazyListenerRunner()
    gc.freeze()  # as in `run_serve`: long-lived objects out of the collector's full passes
    lock = threading.Lock()

    def send(kind: str, payload: Any = None) -> None:
        with lock:  # the dispatch threads and the metrics flusher share the pipe
            conn.send((kind, payload))

    threading.Thread(
        target=_flush_metrics, args=(services.metrics, send), daemon=True
    ).start()
    try:
        serve_pipe(app, conn, send, listener_workers(settings))
    finally:
        with contextlib.suppress(OSError, ValueError):
            send("metrics", services.metrics.registry.drain())
        close = getattr(services, "close", None)
        if callable(close):
            close()


def serve_pipe(
    app: App, conn: Any, send: Callable[[str, Any], None], concurrency: int
) -> None:
    """Ask for `concurrency` deliveries, and for one more as each finishes. Stop at the
    sentinel, or when the serving process is gone (EOF), after the running ones."""
    with ThreadPoolExecutor(concurrency, thread_name_prefix="redline-answer") as pool:
        for _ in range(concurrency):
            send("ready", None)
        while True:
            try:
                delivery = conn.recv()
            except (EOFError, OSError):
                log.error("answer process: the serving process is gone; exiting")
                return
            if delivery is _STOP:
                return
            pool.submit(_dispatch, app, delivery, send)


def _dispatch(app: App, delivery: Delivery, send: Callable[[str, Any], None]) -> None:
    try:
        response = app.dispatch(delivery.bolt_request())
        if response.status >= 400:
            log.warning("answer process: dispatch answered %s", response.status)
    except Exception as exc:  # listeners report their own errors; this is a last resort
        log.error("answer process: dispatch failed: %s", type(exc).__name__)
    finally:
        with contextlib.suppress(OSError, ValueError):
            send("ready", None)


def _flush_metrics(metrics: Any, send: Callable[[str, Any], None]) -> None:
    while True:
        time.sleep(METRICS_PERIOD_S)
        try:
            delta = metrics.registry.drain()
            if delta:
                send("metrics", delta)
        except (OSError, ValueError):
            return  # the pipe is closed: the process is ending
