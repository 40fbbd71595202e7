"""App Home: a short page on what Redline is and how to use it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import blocks

log = logging.getLogger(__name__)


def register(app: App, services: Any) -> None:
    def ack_home(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        try:
            view = blocks.home_view(str(services.settings.profile))
            client.views_publish(user_id=event["user"], view=view)
        except Exception as exc:
            log.warning("views.publish failed: %s", type(exc).__name__)

    app.event("app_home_opened")(ack=ack_home, lazy=[publish_home])
