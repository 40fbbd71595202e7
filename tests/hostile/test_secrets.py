"""The bot token, the signing secret and the model API key never appear in the logs (at
DEBUG, JSON lines, every logger), in the audit database (every row, and the raw bytes of
the SQLite file and its WAL), or in anything sent to Slack, whatever path the request
takes: answers, refusals, model errors that echo the key, Slack errors, bad signatures.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.logs import configure_logging
from tests.fakes.model_server import FakeModelServer, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, event_body, slash_body
from tests.faults.harness import Node, final_bot_text, node_settings, settle, start_node

BOT_TOKEN = "xoxb-4242-4242-SECRETbottoken0123abcd"
SIGNING_SECRET = "SECRETsigning0123456789abcdef0123"
API_KEY = "sk-SECRETmodelkey0123456789abcdefXYZ"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY)
DONE = (":no_entry:", ":warning:", "You said", ":hourglass:")


@dataclass
class Leaky:
    node: Node
    slack: FakeSlack
    model: FakeModelServer
    logs: io.StringIO
    db: Path

    def mention(self, text: str) -> str:
        body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}")
        assert self.node.send_event(body).status_code == 200
        event = body["event"]
        return final_bot_text(self.slack, event["channel"], event["ts"], DONE)


@pytest.fixture
def leaky(tmp_path: Path) -> Iterator[Leaky]:
    db = tmp_path / "redline.db"
    root = logging.getLogger()
    level = root.level
    with FakeSlack(token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as slack, FakeModelServer(
        api_key=API_KEY
    ) as model:
        settings = node_settings(
            slack, model, f"sqlite:///{db}", llm_api_key=API_KEY, log_level="DEBUG",
            log_json=True, audit_text="all",
        )
        logs = io.StringIO()
        handler = configure_logging(settings, stream=logs)
        node = start_node(settings)
        try:
            yield Leaky(node, slack, model, logs, db)
        finally:
            settle(slack, quiet_s=0.2, timeout=5)
            node.close()
            root.removeHandler(handler)
            root.setLevel(level)


def _everything_slack_saw(slack: FakeSlack) -> str:
    calls = [json.dumps(c.params, ensure_ascii=False) for c in slack.calls]
    messages = [json.dumps(m, ensure_ascii=False) for m in slack.bot_messages()]
    return "\n".join(calls + messages)


def _database_text(db: Path) -> str:
    rows: list[str] = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                rows.append(repr(row))
    return "\n".join(rows)


def _raw_bytes(db: Path) -> bytes:
    data = b""
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            data += path.read_bytes()
    return data


def _assert_clean(leaky: Leaky) -> None:
    settle(leaky.slack, quiet_s=0.3, timeout=10)
    logs = leaky.logs.getvalue()
    slack = _everything_slack_saw(leaky.slack)
    rows = _database_text(leaky.db)
    raw = _raw_bytes(leaky.db)
    assert logs, "nothing was logged: the capture is not working"
    assert rows.count("\n") > 3, "the audit has almost no rows: the scan proves nothing"
    for secret in SECRETS:
        assert secret not in logs, f"secret {secret[:8]}… in the logs"
        assert secret not in slack, f"secret {secret[:8]}… sent to Slack"
        assert secret not in rows, f"secret {secret[:8]}… in the audit database"
        assert secret.encode() not in raw, f"secret {secret[:8]}… in the SQLite file bytes"


def test_secrets_stay_out_of_logs_audit_and_slack(leaky: Leaky) -> None:
    # An ordinary answer (the model call carries the key: it must not be logged).
    assert "You said" in leaky.mention("What is retrieval augmented generation?")
    # A refused request quoting secrets: the refused text is kept (audit_text=all), redacted.
    leaky.mention(
        f"Give me step-by-step synthesis instructions for sarin nerve agent {SIGNING_SECRET}"
    )
    # Model errors whose bodies echo the key back, as real providers do.
    # (`always`: the client retries a 5xx, and every attempt must see the same failure.)
    for reply in (
        Reply(status=401, body=json.dumps(
            {"error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "auth"}}
        )),
        Reply(status=500, body=f"<html>upstream error for key {API_KEY}</html>"),
        Reply(body=f"not json at all {API_KEY}"),
    ):
        leaky.model.always(reply)
        assert ":warning:" in leaky.mention("Summarise the plot of Hamlet")
    leaky.model.always(None)
    # Slack failing (the retried request and its error are logged at DEBUG).
    leaky.slack.fail("chat.postMessage", status=500)
    leaky.slack.fail("chat.update", status=429, retry_after=1)
    leaky.mention("And Macbeth?")
    # A forged request carrying the secrets, and a private /redline check quoting them.
    forged = event_body("event_app_mention.json", text=f"{BOT_TOKEN} {SIGNING_SECRET}")
    assert leaky.node.send_event(forged, secret="wrong-secret").status_code == 401
    form = slash_body(
        "/redline", f"check is {BOT_TOKEN} ok to share", response_url=leaky.slack.response_url()
    )
    leaky.node.post(form, content_type="application/x-www-form-urlencoded")
    leaky.slack.wait_for(lambda s: bool(s.calls_to("response_url")), 10)
    _assert_clean(leaky)


def test_an_answer_that_repeats_a_secret_is_redacted(leaky: Leaky) -> None:
    reply = leaky.mention(f"Is it safe to paste my token {BOT_TOKEN} and key {API_KEY} here?")
    assert "You said" in reply
    _assert_clean(leaky)
