"""Admin subcommands of `/redline`: `audit [@user] [category] [since]`, `stats [since]`,
`review`, `profile set <profile> [#channel]`; the audit pages' Newer/Older buttons; and
the App Home view builder.

Thin: parse, call `bot.admin.AdminService` (which checks the actor and audits refused
attempts), answer privately. Acks at once; the store is read in a lazy listener.

`register(app, services)` adds a `/redline` listener that matches only these
subcommands; register it before `handlers.redline` so it sees them first (Bolt runs the
first listener whose matchers pass). `wants` and `answer` let a router call it instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.admin import AdminService, AdminUsageError, AuditFilter, NotAllowed
from bot.slack import admin_views
from bot.slack.blocks import Message
from bot.slack.runner import category_titles
from bot.store import StoreError

log = logging.getLogger(__name__)

SUBCOMMANDS = ("audit", "stats", "review", "profile set")
FAILED_TEXT = "Sorry, that failed. Please try again."


def split(text: Any) -> tuple[str, str]:
    """`/redline` text → (subcommand, rest); `profile set` counts as one subcommand."""
    words = str(text or "").strip().split(maxsplit=1)
    if not words:
        return "", ""
    sub, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    if sub == "profile":
        more = rest.split(maxsplit=1)
        if more and more[0].lower() == "set":
            return "profile set", (more[1].strip() if len(more) > 1 else "")
    return sub, rest


def wants(text: Any) -> bool:
    return split(text)[0] in SUBCOMMANDS


def admin_service(services: Any) -> AdminService:
    existing = getattr(services, "admin", None)
    if isinstance(existing, AdminService):
        return existing
    reviews = getattr(services, "reviews", None)
    is_reviewer = getattr(reviews, "is_reviewer", None)
    return AdminService(
        services.settings, getattr(services, "store", None), services.engine, reviewers=is_reviewer
    )


def run(services: Any, command: Mapping[str, Any]) -> Message:
    """The private answer to an admin subcommand (never raises)."""
    sub, rest = split(command.get("text"))
    actor = str(command.get("user_id") or "")
    team = str(command.get("team_id") or "")
    channel = str(command.get("channel_id") or "")
    service = admin_service(services)
    try:
        if sub == "audit":
            flt = _parse_audit(service, actor, rest, team, channel)
            page = service.audit(actor, flt, team=team, channel=channel)
            return admin_views.audit_message(page)
        if sub == "stats":
            stats = service.stats(actor, rest, team=team, channel=channel)
            return admin_views.stats_message(stats, f"since {rest}" if rest else "all time")
        if sub == "review":
            items = service.pending(actor, team=team, channel=channel)
            return admin_views.pending_message(items, category_titles(services))
        if sub == "profile set":
            change = service.set_profile(actor, rest, current_channel=channel, team=team)
            return admin_views.profile_changed_message(change)
    except NotAllowed as exc:
        return admin_views.text_message(f":lock: {exc}")
    except AdminUsageError as exc:
        return admin_views.text_message(str(exc))
    except StoreError as exc:
        log.error("/redline %s: store: %s", sub, exc)
        return admin_views.text_message(
            "The audit store is unavailable right now. Please try again in a moment."
        )
    except Exception as exc:
        log.error("/redline %s failed: %s", sub, type(exc).__name__)
        return admin_views.text_message(FAILED_TEXT)
    return admin_views.text_message(f"Unknown admin command `{sub}`.")


def _parse_audit(
    service: AdminService, actor: str, rest: str, team: str, channel: str
) -> AuditFilter:
    # Refuse non-admins before telling them anything about the arguments.
    service.require(actor, "audit", team=team, channel=channel)
    return service.parse_audit(rest)


def answer(services: Any, command: Mapping[str, Any], respond: Respond) -> None:
    """Lazy listener body for an admin subcommand: compute and respond privately."""
    if not wants(command.get("text")):
        return
    _respond(respond, run(services, command), replace=False)


def register(app: App, services: Any) -> None:
    def matches(command: dict[str, Any]) -> bool:
        return wants(command.get("text"))

    def ack_now(ack: Ack) -> None:
        ack()

    def answer_command(command: dict[str, Any], respond: Respond) -> None:
        answer(services, command, respond)

    def turn_page(body: dict[str, Any], respond: Respond) -> None:
        actor = str((body.get("user") or {}).get("id") or "")
        team = str((body.get("team") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        service = admin_service(services)
        try:
            value = json.loads(str((body.get("actions") or [{}])[0].get("value") or "{}"))
            page = service.audit(actor, AuditFilter.from_value(value), team=team, channel=channel)
            message = admin_views.audit_message(page)
        except NotAllowed as exc:
            message = admin_views.text_message(f":lock: {exc}")
        except (ValueError, TypeError, KeyError, AttributeError):
            message = admin_views.text_message(
                "That page link is broken; run `/redline audit` again."
            )
        except Exception as exc:
            log.error("audit page failed: %s", type(exc).__name__)
            message = admin_views.text_message(FAILED_TEXT)
        _respond(respond, message, replace=True)

    app.command("/redline", matchers=[matches])(ack=ack_now, lazy=[answer_command])
    app.action(admin_views.AUDIT_PREV)(ack=ack_now, lazy=[turn_page])
    app.action(admin_views.AUDIT_NEXT)(ack=ack_now, lazy=[turn_page])


def home_view_for(services: Any, user: str) -> dict[str, Any]:
    """App Home for `user`: the policy, their own recent decisions; for admins the queue
    and today's figures. Falls back to the policy part alone if the store is down."""
    service = admin_service(services)
    data = service.home(user)
    return admin_views.home_view(data, category_titles(services))


def publish_home(services: Any, client: WebClient, user: str) -> None:
    try:
        client.views_publish(user_id=user, view=home_view_for(services, user))
    except Exception as exc:
        log.warning("views.publish failed: %s", type(exc).__name__)


def _respond(respond: Respond, message: Message, *, replace: bool) -> None:
    try:
        respond(response_type="ephemeral", replace_original=replace, **message.payload())
    except Exception as exc:
        log.warning("could not reach response_url: %s", type(exc).__name__)
