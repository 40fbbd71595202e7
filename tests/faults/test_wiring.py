"""The production assembly, put together exactly as `redline serve` (bot/server.py
run_serve) does it, carries the reliability pieces: /metrics with the decision counters,
the health report, Slack error counting and the rate limits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.app import build_counted_app
from bot.health import HealthCheck
from bot.server import create_http_server
from bot.services import Services, build_services
from bot.settings import RateLimit
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, event_body, sign
from tests.faults.harness import final_bot_text, node_settings, settle


@dataclass
class Production:
    url: str
    services: Services
    http: httpx.Client
    slack: FakeSlack

    def mention(self, text: str, user: str = "U0USER001") -> str:
        body = event_body("event_app_mention.json", text=f"<@{BOT_USER_ID}> {text}", user=user)
        raw = json.dumps(body)
        headers = {"Content-Type": "application/json", **sign(self.slack.signing_secret, raw)}
        assert self.http.post(f"{self.url}/slack/events", content=raw,
                              headers=headers).status_code == 200
        event = body["event"]
        return final_bot_text(self.slack, event["channel"], event["ts"],
                              ("You said", ":warning:", ":no_entry:", "limit"))


@pytest.fixture
def production(
    fake_slack: FakeSlack, fake_model: FakeModelServer, tmp_path: Path
) -> Iterator[Production]:
    settings = node_settings(fake_slack, fake_model, f"sqlite:///{tmp_path / 'p.db'}",
                             rate_per_user=RateLimit(2, 3600))
    # as in bot/server.py run_serve
    services = build_services(settings)
    metrics = services.metrics
    app = build_counted_app(settings, services)
    health = HealthCheck.from_services(services)
    server = create_http_server(
        app, settings, host="127.0.0.1", port=0, health=health.report, metrics=metrics
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    http = httpx.Client(timeout=15)
    try:
        yield Production(f"http://127.0.0.1:{server.effective_port}", services, http, fake_slack)
    finally:
        settle(fake_slack, quiet_s=0.2, timeout=5)
        http.close()
        server.close()
        services.close()


def test_serve_exposes_metrics(production: Production) -> None:
    resp = production.http.get(f"{production.url}/metrics")
    assert resp.status_code == 200
    assert "redline_http_requests_total" in resp.text


def test_serve_counts_decisions(production: Production) -> None:
    assert "You said" in production.mention("What is a runbook?")
    resp = production.http.get(f"{production.url}/metrics")
    assert resp.status_code == 200
    assert 'redline_decisions_total{kind="request",category="none",decision="allow"} 1' in resp.text
    assert "redline_classifier_latency_seconds_count" in resp.text


def test_serve_healthz_reports_database_and_model(production: Production) -> None:
    info = production.http.get(f"{production.url}/healthz").json()
    assert info["database"]["ok"] is True and info["model"]["ok"] is True
    assert info["policy_version"] == production.services.engine.policy.version


def test_serve_enforces_the_rate_limit(production: Production) -> None:
    replies = [
        production.mention(f"How do I bake bread at home? ({i})", user="U0BUSY001")
        for i in range(3)
    ]
    assert ["You said" in r for r in replies] == [True, True, False]
    assert "reached your limit of 2 requests per hour" in replies[2]
    assert replies[2].startswith("(ephemeral to U0BUSY001)")  # only the requester sees it


def test_serve_counts_slack_errors(production: Production) -> None:
    production.slack.fail("chat.postMessage", status=500)
    assert "You said" in production.mention("hello")
    text = production.http.get(f"{production.url}/metrics").text
    assert 'redline_slack_api_errors_total{method="chat.postMessage",error="500"} 1' in text
