"""The app manifest, and `redline serve`'s start-up checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import build_app
from bot.server import require_slack_settings, verify_token
from bot.settings import Settings, SettingsError
from bot.slack.manifest import BOT_EVENTS, build_manifest, render_manifest
from tests.fakes.slack_api import FakeSlack

REPO = Path(__file__).resolve().parents[2]


def test_repo_manifest_is_the_socket_mode_manifest() -> None:
    on_disk = json.loads((REPO / "slack" / "manifest.json").read_text())
    assert on_disk == build_manifest(None)
    assert on_disk["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in on_disk["settings"]["event_subscriptions"]


def test_http_manifest_fills_every_request_url() -> None:
    manifest = build_manifest("https://redline.example.com/")
    url = "https://redline.example.com/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {url}


def test_manifest_has_commands_scopes_events_and_agent_view() -> None:
    manifest = build_manifest(None)
    assert {c["command"] for c in manifest["features"]["slash_commands"]} == {"/ask", "/redline"}
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for scope in (
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "im:read",
        "im:write",
        "channels:history",
        "groups:history",
        "assistant:write",
        "users:read",
        "usergroups:read",
    ):
        assert scope in scopes
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == set(BOT_EVENTS)
    view = manifest["features"]["assistant_view"]
    assert view["assistant_description"] and view["suggested_prompts"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LLM_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", "/nonexistent/.env", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=REPO,
        timeout=60,
    )


def test_manifest_command_prints_http_manifest() -> None:
    result = _cli(["manifest", "--url", "https://r.example.com"], {})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(render_manifest("https://r.example.com"))


def test_serve_without_bot_token_names_the_variable() -> None:
    result = _cli(["serve"], {})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_serve_http_without_signing_secret_names_the_variable() -> None:
    result = _cli(["serve"], {"SLACK_BOT_TOKEN": "xoxb-1-2-3"})
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_socket_mode_needs_no_signing_secret() -> None:
    require_slack_settings(Settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1"))


def test_rejected_token_is_a_configuration_error() -> None:
    with FakeSlack() as slack:
        settings = slack.settings(slack_bot_token="xoxb-wrong-token")
        app = build_app(settings, services=None)
        with pytest.raises(SettingsError) as err:
            verify_token(app)
        assert err.value.variable == "SLACK_BOT_TOKEN"
        assert "invalid_auth" in str(err.value)
        assert "xoxb-wrong-token" not in str(err.value)



def test_answer_processes_setting() -> None:
    # Off unless asked for: each answer process holds its own classifier (~100 MB).
    assert Settings.from_env(env={}, dotenv_path=None).answer_processes == 0
    env = {"REDLINE_ANSWER_PROCESSES": "2"}
    assert Settings.from_env(env=env, dotenv_path=None).answer_processes == 2
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env={"REDLINE_ANSWER_PROCESSES": "many"}, dotenv_path=None)
    assert err.value.variable == "REDLINE_ANSWER_PROCESSES"
