"""REDLINE_ANSWER_PROCESSES: the serving process acks, child processes answer.

To prove the children do the answering, the serving process's own ask flow is replaced by
one that fails loudly: any answer it produced would be the generic failure text.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from slack_bolt import BoltRequest

from bot.answer_workers import AnswerWorkers, Delivery, start_answer_workers
from bot.app import build_app
from bot.metrics import parse
from bot.server import create_http_server, socket_mode_handler
from bot.services import build_services
from bot.slack.runner import FAILURE_TEXT
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import (
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlack,
    event_body,
    sign,
    slash_body,
)
from tests.faults.harness import Node, final_bot_text, node_settings, settle, start_node
from tests.procs import child_pids

REPO = Path(__file__).resolve().parents[2]
CHANNEL = "C0CHAN001"
DONE = ("You said", FAILURE_TEXT)


class NotHere:
    """The serving process's ask flow when children answer: it must never be reached."""

    def handle(self, request: Any, sink: Any) -> None:
        raise AssertionError("answered in the serving process")


def idle_child(settings: Any, conn: Any) -> None:
    """A child that never asks for work: the backlog fills up. (Module level: spawn
    pickles it by name.)"""
    time.sleep(60)


@pytest.fixture
def node(fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path) -> Iterator[Node]:
    settings = node_settings(
        fake_slack, fake_model, f"sqlite:///{tmp_path / 'r.db'}", answer_processes=1
    )
    started = start_node(settings)
    started.services.ask = NotHere()  # type: ignore[assignment]
    try:
        yield started
    finally:
        settle(fake_slack, quiet_s=0.2, timeout=5)
        started.close()


def _mention(node: Node, text: str) -> dict[str, Any]:
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}")
    assert node.send_event(body).status_code == 200
    return dict(body["event"])


def _metric(node: Node, name: str, **labels: str) -> float:
    text = node.get("/metrics").text
    return sum(
        s.value for s in parse(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_event_is_answered_by_a_child_and_counted_on_the_serving_process(
    node: Node, fake_slack: FakeSlack
) -> None:
    event = _mention(node, "how do tides work?")
    answer = final_bot_text(fake_slack, event["channel"], event["ts"], DONE, timeout=20)
    assert "You said: how do tides work?" in answer
    assert FAILURE_TEXT not in answer
    # The child's decision counters reach this process's /metrics within a second or two.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not _metric(
        node, "redline_decisions_total", kind="request", decision="allow"
    ):
        time.sleep(0.2)
    assert _metric(node, "redline_decisions_total", kind="request", decision="allow") == 1
    health = node.get("/healthz").json()
    assert health["answer_processes"] == {"configured": 1, "alive": 1, "restarts": 0}
    assert health["ok"] is True


def test_slash_command_is_acked_here_and_its_lazy_listener_runs_in_a_child(
    node: Node, fake_slack: FakeSlack
) -> None:
    form = slash_body("/ask", "what is a B-tree?", response_url=fake_slack.response_url())
    response = node.post(form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert fake_slack.wait_for(
        lambda s: any("You said: what is a B-tree?" in t for t in _thread_texts(s)), 20
    ), _thread_texts(fake_slack)
    assert not any(FAILURE_TEXT in t for t in _thread_texts(fake_slack))


def _thread_texts(slack: FakeSlack) -> list[str]:
    return [str(m.get("text") or "") for m in slack.bot_messages()]


def test_a_killed_child_is_replaced_and_answers_go_on(node: Node, fake_slack: FakeSlack) -> None:
    workers = node.answer_workers
    assert workers is not None
    first = _mention(node, "first question")
    final_bot_text(fake_slack, first["channel"], first["ts"], DONE, timeout=20)
    (pid,) = workers.pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and node.get("/healthz").json()[
        "answer_processes"
    ]["restarts"] < 1:
        time.sleep(0.1)
    assert node.get("/healthz").json()["answer_processes"]["restarts"] == 1
    assert workers.pids() != [pid]
    second = _mention(node, "second question")
    answer = final_bot_text(fake_slack, second["channel"], second["ts"], DONE, timeout=20)
    assert "You said: second question" in answer


def test_full_queue_answers_503_for_events_and_runs_commands_here(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> None:
    settings = node_settings(fake_slack, fake_model, f"sqlite:///{tmp_path / 'q.db'}")
    services = build_services(settings)
    app = build_app(settings, services)
    stuck = AnswerWorkers(settings, 1, max_pending=1, child_main=idle_child).start()
    stuck.attach(app)
    server = create_http_server(app, settings, host="127.0.0.1", port=0, answer_workers=stuck)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}/slack/events"
    try:
        with httpx.Client(timeout=15) as http:
            statuses = [
                _post(http, url, json.dumps(event_body("event_app_mention.json")), "json")
                for _ in range(3)
            ]
            assert statuses[0] == 200
            assert statuses[1:] == [503, 503]  # Slack retries these later: nothing lost
            # The queue is full and the ack has gone: the command is answered here instead.
            form = slash_body("/ask", "queue is full", response_url=fake_slack.response_url())
            assert _post(http, url, form, "form") == 200
            assert fake_slack.wait_for(
                lambda s: any("You said: queue is full" in t for t in _thread_texts(s)), 15
            )
    finally:
        settle(fake_slack, quiet_s=0.2, timeout=5)
        server.close()
        stuck.stop(timeout=1)
        services.close()


def _post(http: httpx.Client, url: str, body: str, kind: str) -> int:
    ctype = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
    headers = {"Content-Type": ctype, **sign(SIGNING_SECRET, body)}
    return http.post(url, content=body.encode(), headers=headers).status_code


def test_delivery_round_trips_lazy_only_requests() -> None:
    form = slash_body("/ask", "q", response_url="http://127.0.0.1:1/r")
    original = BoltRequest(body=form, query="a=1", headers={"content-type": "x", **sign("s", form)})
    original.lazy_only = True
    original.lazy_function_name = "answer_ask"
    delivery = Delivery.lazy(original)
    again = delivery.bolt_request()
    assert again.lazy_only and again.lazy_function_name == "answer_ask"
    assert again.raw_body == form and again.query == {"a": ["1"]}
    assert again.body["command"] == "/ask"


def _serve(tmp_path: Path, slack: FakeSlack) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REDLINE_ANSWER_PROCESSES": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), "serve"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).json()["answer_processes"]["alive"] == 2:
                return proc, url
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("redline serve did not come up with 2 answer processes")


def _gone(pids: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_answer_processes_end_with_the_serving_process(
    tmp_path: Path, fake_slack: FakeSlack, how: str
) -> None:
    proc, _ = _serve(tmp_path, fake_slack)
    children = {
        c for c in child_pids(proc.pid)
        if "multiprocessing" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
        and "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
    }
    assert len(children) == 2
    proc.send_signal(getattr(signal, how))
    code = proc.wait(timeout=15)
    if how == "SIGTERM":
        assert code == 0  # a clean stop: children told to finish, store closed
    assert _gone(children, 10), "answer processes outlived the serving process"


def test_socket_mode_with_answer_processes(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> None:
    ws = fake_slack.enable_socket_mode()
    settings = fake_slack.socket_mode_settings(
        fake_model.settings("openai", llm_timeout_s=2.0),
        database_url=f"sqlite:///{tmp_path / 'ws.db'}",
        answer_processes=1,
    )
    services = build_services(settings)
    services.ask = NotHere()  # type: ignore[assignment]
    app = build_app(settings, services)
    workers = start_answer_workers(app, settings, services.metrics)
    handler = socket_mode_handler(app, settings)
    handler.connect()
    try:
        form = slash_body("/ask", "over the socket", response_url=fake_slack.response_url())
        envelope = ws.send("slash_commands", dict(parse_qsl(form)))
        assert ws.wait_ack(envelope) is not None
        assert fake_slack.wait_for(
            lambda s: any("You said: over the socket" in t for t in _thread_texts(s)), 20
        ), _thread_texts(fake_slack)
        assert not any(FAILURE_TEXT in t for t in _thread_texts(fake_slack))
    finally:
        settle(fake_slack, quiet_s=0.2, timeout=5)
        handler.close()
        if workers is not None:
            workers.stop()
        services.close()
