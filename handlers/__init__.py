"""Slack listeners, one module per command or event. `register(app, services)` wires them.

Each listener acks at once (Bolt runs the ack function on the HTTP thread) and does the
real work in a lazy function on Bolt's worker pool, so Slack always gets its ack well
within 3 seconds, whatever the policy engine or the model are doing.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from handlers import admin, agent, ask, home, mentions, messages, redline, review


def register(app: App, services: Any) -> None:
    # The agent view first: its middleware claims DM thread messages of assistant threads
    # before the generic message listener sees them.
    agent.register(app, services)
    # Admin subcommands (audit, stats, review, profile set) before the general /redline
    # listener: Bolt runs the first listener whose matchers pass.
    admin.register(app, services)
    review.register(app, services)
    ask.register(app, services)
    redline.register(app, services)
    mentions.register(app, services)
    messages.register(app, services)
    home.register(app, services)
