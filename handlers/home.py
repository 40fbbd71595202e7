"""App Home: the policy, the user's own recent decisions; for admins the review queue and
today's figures (built by the admin surface, `handlers.admin.publish_home`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.runner import first_delivery
from handlers.admin import publish_home as publish_admin_home

log = logging.getLogger(__name__)


def register(app: App, services: Any) -> None:
    def ack_home(ack: Ack) -> None:
        ack()

    def publish_home(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        if not first_delivery(services, body):
            return
        publish_admin_home(services, client, str(event["user"]))  # never raises

    app.event("app_home_opened")(ack=ack_home, lazy=[publish_home])
