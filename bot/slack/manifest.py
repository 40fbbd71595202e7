"""The Slack app manifest, as code, and `redline manifest [--url URL]`.

`slack/manifest.json` in the repository is this manifest for Socket Mode (a test keeps
the two in step). With `--url https://host` the printed manifest is for HTTP mode: every
request URL is `https://host/slack/events` and Socket Mode is off.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.settings import Settings, SettingsError

EVENTS_PATH = "/slack/events"

SUGGESTED_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "What can you help with?", "message": "What can you help me with here?"},
    {"title": "Explain the usage policy", "message": "Summarise the usage policy you follow."},
    {"title": "Draft a message", "message": "Help me draft a short project update for my team."},
)

BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "chat:write.public",  # /ask in a public channel the bot has not been invited to
    "commands",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
    "usergroups:read",
    "users:read",
)

BOT_EVENTS: tuple[str, ...] = (
    "app_home_opened",
    "app_mention",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "message.im",
)

_LONG_DESCRIPTION = (
    "Redline gives your team an AI assistant in Slack, behind a usage policy enforced in "
    "code rather than in a prompt. Every request and every answer gets a decision: allow, "
    "hold for human review, or refuse, with the category and the policy's reason. Hard "
    "limits (autonomous weapons, mass domestic surveillance, CBRN weapons) are refused "
    "under every setting. Ask with /ask, by mentioning @Redline, in a direct message or "
    "in the assistant panel; check any text privately with /redline check."
)


def build_manifest(url: str | None = None) -> dict[str, Any]:
    """The manifest for HTTP mode when `url` (public base URL) is given, else Socket Mode."""
    request_url = f"{url.rstrip('/')}{EVENTS_PATH}" if url else None

    def command(name: str, description: str, hint: str, escape: bool = False) -> dict[str, Any]:
        # Escaping makes Slack send @user / #channel as <@U…> / <#C…>, which the admin
        # commands need to resolve them; /ask keeps the user's text as typed.
        entry: dict[str, Any] = {
            "command": name,
            "description": description,
            "usage_hint": hint,
            "should_escape": escape,
        }
        if request_url:
            entry["url"] = request_url
        return entry

    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url:
        events = {"request_url": request_url, **events}
        interactivity["request_url"] = request_url

    return {
        "_metadata": {"major_version": 2, "minor_version": 1},
        "display_information": {
            "name": "Redline",
            "description": "An AI assistant behind a usage policy enforced in code.",
            "background_color": "#7a1f1f",
            "long_description": _LONG_DESCRIPTION,
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "Redline", "always_online": True},
            "slash_commands": [
                command("/ask", "Ask the assistant; the answer lands in a thread", "[question]"),
                command(
                    "/redline",
                    "Policy tools: help, policy, profile, check; admins: audit, stats, review",
                    "help | policy | profile | check [text] | audit [@user] [category] [since]"
                    " | stats [since] | review | profile set <profile> [#channel]",
                    escape=True,
                ),
            ],
            "assistant_view": {
                "assistant_description": (
                    "Ask anything. Every request and answer is checked against your "
                    "workspace's usage policy."
                ),
                "suggested_prompts": [dict(p) for p in SUGGESTED_PROMPTS],
            },
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


def render_manifest(url: str | None = None) -> str:
    return json.dumps(build_manifest(url), indent=2, ensure_ascii=False) + "\n"


def run_manifest(args: argparse.Namespace, settings: Settings) -> int:
    url = getattr(args, "url", None)
    if url and not url.startswith("https://") and not url.startswith("http://"):
        raise SettingsError("--url", f"expected the app's public https:// base URL, got {url!r}")
    print(render_manifest(url), end="")
    return 0
