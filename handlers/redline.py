"""`/redline help|policy|check <text>|profile`: private answers about the policy.

`check` shows the decision word (allow, review, refuse), the category and the reason, and
never calls the model. The admin subcommands (audit, stats, review, profile set) are
routed to handlers/admin.py; an unknown subcommand gets the help text.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack import blocks
from bot.slack.runner import category_titles

log = logging.getLogger(__name__)


def register(app: App, services: Any) -> None:
    def ack_redline(ack: Ack, command: dict[str, Any]) -> None:
        sub, rest = _split(command.get("text"))
        channel = str(command.get("channel_id") or "")
        try:
            if sub == "check":
                if rest:
                    ack()  # the engine may take a moment (classifier, judge): answer lazily
                else:
                    ack(**blocks.usage_message("/redline", "check <text>").payload())
            elif sub == "policy":
                ack(**_policy(services, channel).payload())
            elif sub == "profile":
                ack(**_profile(services, channel).payload())
            else:
                ack(**blocks.help_message().payload())
        except Exception as exc:  # never let the ack fail: Slack would show a timeout
            log.error("/redline %s failed: %s", sub, type(exc).__name__)
            ack(text="Sorry, that failed. Please try again.")

    def answer_check(command: dict[str, Any], respond: Respond) -> None:
        sub, rest = _split(command.get("text"))
        if sub != "check" or not rest:
            return
        channel = str(command.get("channel_id") or "")
        try:
            verdict = services.ask.check(rest, channel)
            message = blocks.check_message(verdict, category_titles(services))
        except Exception as exc:
            log.error("/redline check failed: %s", type(exc).__name__)
            message = blocks.failure_message("The policy check failed; please try again.")
        try:
            respond(response_type="ephemeral", replace_original=False, **message.payload())
        except Exception as exc:
            log.warning("could not reach response_url: %s", type(exc).__name__)

    app.command("/redline")(ack=ack_redline, lazy=[answer_check])


def _split(text: Any) -> tuple[str, str]:
    parts = str(text or "").strip().split(maxsplit=1)
    if not parts:
        return "help", ""
    return parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")


def _default_profile(services: Any) -> str:
    return str(getattr(services.settings, "profile", "standard"))


def _channel_profile(services: Any, channel: str) -> str:
    try:
        return str(services.engine.profile_for_channel(channel))
    except Exception:
        return _default_profile(services)


def _policy(services: Any, channel: str) -> blocks.Message:
    policy = services.engine.policy
    return blocks.policy_message(
        policy.categories, _channel_profile(services, channel), str(policy.version)
    )


def _profile(services: Any, channel: str) -> blocks.Message:
    return blocks.profile_message(
        channel, _channel_profile(services, channel), _default_profile(services)
    )
