"""Review buttons and the deny modal: Approve, Deny… (opens the modal), its submission,
and "Request review" on an appealable refusal.

Thin: parse the payload, call `bot.review.ReviewService`, tell the person who clicked.
Every listener acks at once and works lazily; nothing raises out of a listener (Bolt
would turn that into a 404 and Slack would retry the click).

`register` also binds the service to Slack: the card notifier, the sink for the original
thread, and the reviewer group's members.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.review import ActionResult, Appeal, ReviewService
from bot.slack import review_cards
from bot.slack.review_notifier import GroupMembers, SlackReviewNotifier
from bot.slack.runner import category_titles, make_sink
from bot.store import ReviewItem

log = logging.getLogger(__name__)

FAILED_TEXT = "Sorry, that didn't work. Please try again."


def review_service(services: Any) -> ReviewService | None:
    service = getattr(services, "reviews", None)
    return service if isinstance(service, ReviewService) else None


def bind(app: App, services: Any) -> ReviewService | None:
    """Give the review service its Slack parts (client known only once the app exists)."""
    service = review_service(services)
    if service is None:
        return None
    settings = services.settings
    client = app.client

    def sink_for(item: ReviewItem) -> Any:
        return make_sink(services, client, item.channel, item.thread_ts)

    service.bind(
        ask=services.ask,
        notifier=SlackReviewNotifier(
            client, settings.review_channel, category_titles(services), settings.review_ttl_h
        ),
        sink_for=sink_for,
        reviewers=GroupMembers(client, settings.reviewer_group),
        # approved answers are guarded by this engine, relaxed for the approved category
        engine=getattr(services, "engine", None),
        chat=getattr(services, "chat", None),
    )
    return service


def register(app: App, services: Any) -> None:
    bind(app, services)

    def ack_now(ack: Ack) -> None:
        ack()

    def approve(body: dict[str, Any], respond: Respond) -> None:
        service = review_service(services)
        review_id, user = _action_value(body), _user(body)
        if service is None:
            return _tell(respond, "The review queue is not configured.")
        try:
            result = service.approve(review_id, user)
        except Exception as exc:
            log.error("approve %s failed: %s", review_id[:40], type(exc).__name__)
            return _tell(respond, FAILED_TEXT)
        if not result.ok:
            _tell(respond, result.message)
        return None

    def open_deny(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        service = review_service(services)
        review_id, user = _action_value(body), _user(body)
        if service is None:
            return _tell(respond, "The review queue is not configured.")
        try:
            refusal = service.can_review(review_id, user)
            if refusal is not None:
                return _tell(respond, refusal.message)
            client.views_open(
                trigger_id=str(body.get("trigger_id") or ""),
                view=review_cards.deny_modal(review_id),
            )
        except Exception as exc:
            log.error("deny form for %s failed: %s", review_id[:40], type(exc).__name__)
            _tell(respond, FAILED_TEXT)
        return None

    def ack_deny_modal(ack: Ack, view: dict[str, Any]) -> None:
        if not review_cards.modal_reason(view).strip():
            ack(
                response_action="errors",
                errors={review_cards.REASON_BLOCK: "Give the requester a reason."},
            )
        else:
            ack()

    def submit_deny(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        service = review_service(services)
        review_id = review_cards.modal_review_id(view)
        user = _user(body)
        reason = review_cards.modal_reason(view)
        if service is None or not reason.strip():
            return
        try:
            result = service.deny(review_id, user, reason)
        except Exception as exc:
            log.error("deny %s failed: %s", review_id[:40], type(exc).__name__)
            result = ActionResult("failed", FAILED_TEXT)
        if not result.ok:
            _ephemeral(client, result, user)
        return None

    def appeal(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        service = review_service(services)
        user = _user(body)
        ref = review_cards.parse_appeal(_action_value(body))
        if service is None or ref is None:
            return _tell(respond, "This button no longer works; ask a Redline admin.")
        if ref.text is None:
            return _tell(
                respond,
                "This request is too long to send for review from here; "
                "ask a Redline admin to look at it.",
            )
        try:
            result = service.appeal(
                Appeal(
                    request_id=ref.request_id,
                    user=ref.user,
                    channel=ref.channel,
                    thread_ts=ref.thread_ts,
                    text=ref.text,
                    category=ref.category,
                    team=ref.team,
                    profile=ref.profile,
                ),
                user,
            )
        except Exception as exc:
            log.error("appeal failed: %s", type(exc).__name__)
            return _tell(respond, FAILED_TEXT)
        if result.outcome in ("queued", "duplicate"):
            _mark_appealed(client, body, result)
        if result.outcome != "queued":
            _tell(respond, result.message)
        return None

    app.action(review_cards.APPROVE_ACTION)(ack=ack_now, lazy=[approve])
    app.action(review_cards.DENY_ACTION)(ack=ack_now, lazy=[open_deny])
    app.view(review_cards.DENY_MODAL)(ack=ack_deny_modal, lazy=[submit_deny])
    app.action(review_cards.APPEAL_ACTION)(ack=ack_now, lazy=[appeal])


def _action_value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str((actions[0] or {}).get("value") or "")


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _tell(respond: Respond, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:
        log.warning("could not reach response_url: %s", type(exc).__name__)


def _ephemeral(client: WebClient, result: ActionResult, user: str) -> None:
    """After a modal there is no response_url: tell the reviewer next to the card."""
    item = result.item
    channel = item.card_channel if item is not None else ""
    if not channel:
        log.info("deny not applied (%s) and no card channel to say so", result.outcome)
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=result.message)
    except Exception as exc:
        log.warning("chat.postEphemeral failed: %s", type(exc).__name__)


def _mark_appealed(client: WebClient, body: Mapping[str, Any], result: ActionResult) -> None:
    """Replace the refusal's button with a note, so it is not pressed twice."""
    message = body.get("message") or {}
    channel = str(
        (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or ""
    )
    ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
    if not (channel and ts):
        return
    note = "Review requested; you will hear back in this thread."
    if result.item is not None:
        note += f" (review {result.item.id})"
    try:
        client.chat_update(
            channel=channel,
            ts=ts,
            text=str(message.get("text") or note),
            blocks=review_cards.appeal_done(list(message.get("blocks") or []), note),
        )
    except Exception as exc:
        log.warning("could not update the refusal message: %s", type(exc).__name__)
