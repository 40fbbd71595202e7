"""The database unreachable at start (one clear line, non-zero exit), going away mid-run
(requests fail closed with a message, the model is not called), coming back (works
again without a restart), and the process killed mid-answer (the decision is already
audited and the hash chain verifies)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from bot.settings import RateLimit
from bot.store import Store
from tests.fakes.model_server import FakeModelServer, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, event_body
from tests.faults.conftest import NodeFactory
from tests.faults.harness import (
    Node,
    TcpProxy,
    final_bot_text,
    node_settings,
    settle,
)
from tests.pg_schema import PgSchema

REPO = Path(__file__).resolve().parents[2]
DONE = (":warning:", "You said", ":no_entry:")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-1-2-startuptest",
        "SLACK_SIGNING_SECRET": "startup-signing-secret",
        "SLACK_API_URL": f"http://127.0.0.1:{_free_port()}/api/",
        "PORT": str(_free_port()),
        "HOST": "127.0.0.1",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", str(tmp_path / "none.env"), "serve"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=60,
    )


UNREACHABLE = {
    "postgresql_closed_port": lambda p: f"postgresql+psycopg://postgres@127.0.0.1:{p}/test",
    "sqlite_missing_directory": lambda p: "sqlite:////nonexistent-redline-dir/sub/redline.db",
}


@pytest.mark.parametrize("case", sorted(UNREACHABLE))
def test_database_unreachable_at_start_exits_non_zero(tmp_path: Path, case: str) -> None:
    result = _serve({"DATABASE_URL": UNREACHABLE[case](_free_port())}, tmp_path)
    assert result.returncode != 0
    assert "database" in result.stderr.lower()


@pytest.mark.parametrize("case", sorted(UNREACHABLE))
def test_database_unreachable_at_start_is_one_clear_line(tmp_path: Path, case: str) -> None:
    result = _serve({"DATABASE_URL": UNREACHABLE[case](_free_port())}, tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "database" in lines[0].lower() and "Traceback" not in result.stderr


def _ask(node: Node, slack: FakeSlack, text: str, **kw: object) -> str:
    body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}", **kw)
    assert node.send_event(body).status_code == 200
    event = body["event"]
    return final_bot_text(slack, event["channel"], event["ts"], DONE, timeout=15)


@pytest.mark.parametrize("with_rate_limits", [False, True])
def test_database_down_mid_run_fails_closed_then_recovers(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer,
    pg_schema: PgSchema, with_rate_limits: bool,
) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    try:
        limits = {"rate_per_user": RateLimit(1000, 3600)} if with_rate_limits else {}
        node = make_node(pg_schema.url_via(proxy.address), **limits)
        assert "You said: How do I make pancakes?" in _ask(node, fake_slack,
                                                           "How do I make pancakes?")
        assert fake_model.model_calls == 1

        proxy.cut()
        reply = _ask(node, fake_slack, "How do I make waffles?")
        assert ":warning:" in reply, reply
        assert "You said" not in reply
        assert fake_model.model_calls == 1  # failed closed: the model was not called
        if with_rate_limits:
            assert "database is unavailable" in reply
        health = node.get("/healthz")
        assert health.status_code == 200 and health.json()["database"]["ok"] is False

        proxy.restore()
        # no restart needed
        assert "You said: How do I make crepes?" in _ask(node, fake_slack, "How do I make crepes?")
        assert fake_model.model_calls == 2
        assert node.get("/healthz").json()["database"]["ok"] is True
        store = node.services.store
        assert store is not None
        assert store.verify().ok
        texts = {r.request_id for r in store.iter_records() if r.action == "request"}
        assert len(texts) == 2  # before and after; nothing recorded for the refused one
    finally:
        proxy.close()


def test_database_down_message_says_why(
    make_node: NodeFactory, fake_slack: FakeSlack, fake_model: FakeModelServer,
    pg_schema: PgSchema,
) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    try:
        node = make_node(pg_schema.url_via(proxy.address))
        _ask(node, fake_slack, "How do I make pancakes?")
        proxy.cut()
        reply = _ask(node, fake_slack, "How do I make waffles?")
        assert "not sent to the model" in reply, reply
    finally:
        proxy.close()


# --- killed mid-answer --------------------------------------------------------------------


def _start_process(settings_values: dict[str, object]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.node_process", json.dumps(settings_values)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY "), f"node did not start: {line!r}"
    return proc, int(line.split()[1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_mid_answer_leaves_the_decision_audited_and_the_chain_whole(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path, backend: str,
) -> None:
    schema = PgSchema() if backend == "postgresql" else None
    url = schema.url if schema else f"sqlite:///{tmp_path / 'redline.db'}"
    try:
        settings = node_settings(fake_slack, fake_model, url, llm_timeout_s=30.0)
        values = {
            k: v for k, v in asdict(settings).items()
            if isinstance(v, str | int | float | bool) and k != "policy_path"
        }
        proc, port = _start_process(values)
        try:
            # The model starts answering, then hangs: the process is mid-answer.
            fake_model.always(Reply(chunks=["Hash chains ", "link ", "records "], stall_after=1))
            bodies = [
                event_body(
                    "event_app_mention.json",
                    text=f"<@{BOT_USER_ID}> How do hash chains work? ({i})",
                )
                for i in range(3)
            ]
            import httpx

            from tests.fakes.slack_api import sign

            with httpx.Client(timeout=10) as http:
                for body in bodies:
                    raw = json.dumps(body)
                    headers = {"Content-Type": "application/json",
                               **sign(fake_slack.signing_secret, raw)}
                    resp = http.post(f"http://127.0.0.1:{port}/slack/events", content=raw,
                                     headers=headers)
                    assert resp.status_code == 200
            fake_model.wait_for_requests(3, timeout=15)
            time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

        with Store.open(replace(settings, database_url=url)) as store:
            result = store.verify()
            assert result.ok, result.message
            requests = {r.request_id: r for r in store.iter_records() if r.action == "request"}
            for body in bodies:
                record = requests.get(body["event_id"])
                assert record is not None, f"decision for {body['event_id']} was not audited"
                assert record.decision == "allow"
            # nothing half-written: no answer was recorded for a stream that never ended
            assert not [r for r in store.iter_records() if r.action == "response"]
        settle(fake_slack, quiet_s=0.2, timeout=3)
        posted = " ".join(str(m) for m in fake_slack.bot_messages())
        assert "Hash chains" not in posted  # text under the guard's hold-back never shown
    finally:
        if schema:
            schema.drop()
