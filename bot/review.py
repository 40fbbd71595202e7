"""The review workflow, transport-free: hold, approve, deny, appeal, expire.

`ReviewService` is the ask flow's `ReviewQueue` (`hold`) and what the Slack handlers call
when a reviewer presses a button. It knows the store, the ask flow and three small
collaborators bound once the transport exists:

- a `ReviewNotifier` (post the review card, update it, tell the requester),
- a sink factory (the `ReplySink` for the original thread, where an approved answer lands),
- a `reviewers` callable (members of REDLINE_REVIEWER_GROUP; admins are always reviewers).

The store does the decisive work atomically: `decide_review` lets the first decision win
(on any replica), refuses self-approval, and audits each of those in the same transaction
as the change. This module audits what the store cannot see: a non-reviewer pressing a
button, an appeal, a card that could not be posted. A notifier failure never undoes a
decision; a store failure means nothing happened and the actor is told so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.policy.policy import HARD_LIMIT_IDS
from bot.settings import Settings
from bot.store import ReviewItem, ReviewRefused, StoreError
from bot.store.models import utcnow
from bot.types import AuditEntry, Kind, Request, Verdict

if TYPE_CHECKING:
    from bot.ask import AskFlow, Engine, ReplySink
    from bot.model import ChatClient
    from bot.store import Store

log = logging.getLogger(__name__)

NOT_REVIEWER_MESSAGE = "Not allowed: only Redline reviewers can approve or deny held requests."
NOT_REQUESTER_MESSAGE = "Only the person who asked can request a review of this refusal."
HARD_LIMIT_MESSAGE = (
    "This request falls under a hard limit of the usage policy; no review can allow it."
)
UNAVAILABLE_MESSAGE = "The review queue is unavailable right now; nothing was changed. Try again."
REASON_REQUIRED_MESSAGE = "Please give a reason: the requester is told why it was denied."
MAX_REASON_CHARS = 1000


class ReviewNotifier(Protocol):
    """How the review workflow shows itself (Slack implements it; tests record it)."""

    def post_card(self, item: ReviewItem) -> tuple[str, str] | None:
        """Post the review card for a pending item; return (channel, ts) or None."""
        ...

    def update_card(self, item: ReviewItem) -> None:
        """Re-render the item's card for its current status (who decided, or expired)."""
        ...

    def tell_requester(self, item: ReviewItem, outcome: str) -> None:
        """Tell the requester in the original thread: approved | denied | expired | appealed."""
        ...


SinkFactory = Callable[[ReviewItem], "ReplySink"]
Reviewers = Callable[[], Collection[str]]


@dataclass(frozen=True)
class ActionResult:
    """What a review action did, in words for the person who acted."""

    outcome: str  # approved|denied|queued|not_allowed|self_approval|already_decided|expired|
    #               not_found|hard_limit|duplicate|reason_required|unavailable
    message: str
    item: ReviewItem | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("approved", "denied", "queued")


@dataclass(frozen=True)
class Appeal:
    """A refused request its requester wants a human to look at."""

    request_id: str
    user: str
    channel: str
    thread_ts: str
    text: str
    category: str | None
    team: str = ""
    profile: str = ""


class ReviewService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        ask: AskFlow | None = None,
        notifier: ReviewNotifier | None = None,
        sink_for: SinkFactory | None = None,
        reviewers: Reviewers | None = None,
        clock: Callable[[], datetime] = utcnow,
        engine: Engine | None = None,
        chat: ChatClient | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._engine = engine
        self._chat = chat
        self.ask = ask
        self._notifier = notifier
        self._sink_for = sink_for
        self._reviewers = reviewers
        self._clock = clock

    def bind(
        self,
        *,
        ask: AskFlow | None = None,
        notifier: ReviewNotifier | None = None,
        sink_for: SinkFactory | None = None,
        reviewers: Reviewers | None = None,
        engine: Engine | None = None,
        chat: ChatClient | None = None,
    ) -> None:
        """Attach what exists only later (the ask flow is built with this service; the
        Slack client with the app)."""
        if ask is not None:
            self.ask = ask
        if notifier is not None:
            self._notifier = notifier
        if sink_for is not None:
            self._sink_for = sink_for
        if reviewers is not None:
            self._reviewers = reviewers
        if engine is not None:
            self._engine = engine
        if chat is not None:
            self._chat = chat

    # -- who may act ----------------------------------------------------------------------

    def is_reviewer(self, user: str) -> bool:
        """Admins, and members of REDLINE_REVIEWER_GROUP. Fails closed: if the group cannot
        be read, only admins are reviewers."""
        if not user:
            return False
        if user in self._settings.admins:
            return True
        if self._reviewers is None:
            return False
        try:
            return user in self._reviewers()
        except Exception as exc:
            log.warning("reviewer group lookup failed (%s): admins only", type(exc).__name__)
            return False

    # -- ReviewQueue (called by the ask flow) ---------------------------------------------

    def hold(self, request: Request, verdict: Verdict) -> str:
        """Queue the request and post its card. A store failure raises: the ask flow then
        tells the user it failed, and nothing reaches the model."""
        item = self._store.create_review(
            request_id=request.request_id,
            team=request.team,
            channel=request.channel,
            thread_ts=request.thread_ts,
            user=request.user,
            text=request.text,
            category=verdict.category,
            evidence=verdict.evidence,
            summary=verdict.reason,
            profile=verdict.profile,
            policy_version=verdict.policy_version,
            now=self._clock(),
        )
        self._post_card(item)
        return item.id

    # -- reviewer actions -----------------------------------------------------------------

    def approve(self, review_id: str, reviewer: str) -> ActionResult:
        """Approve; the winner's call runs the model and answers in the original thread."""
        denied = self._refuse_non_reviewer(review_id, reviewer, "approve")
        if denied is not None:
            return denied
        now = self._clock()
        try:
            item, won = self._store.decide_review(review_id, reviewer, True, now=now)
        except ReviewRefused as exc:
            outcome = "self_approval" if exc.reason == "self_approval" else "not_found"
            return ActionResult(outcome, str(exc))
        except StoreError as exc:
            log.error("approve %s failed: %s", review_id, exc)
            return ActionResult("unavailable", UNAVAILABLE_MESSAGE)
        if not won:
            return self._too_late(item, now)
        self._notify(self._update_card, item)
        self._notify(self._tell, item, "approved")
        try:
            self._answer(item)
        except Exception as exc:  # e.g. Slack down while reporting a failure: decision stands
            log.error(
                "answer for approved review %s not delivered: %s", item.id, type(exc).__name__
            )
            return ActionResult(
                "approved",
                "Approved, but the answer could not be delivered to the "
                "requester's thread; they can ask again.",
                item,
            )
        return ActionResult(
            "approved", "Approved; the answer was posted in the requester's thread.", item
        )

    def deny(self, review_id: str, reviewer: str, reason: str) -> ActionResult:
        """Deny with a reason; the requester is told why. The model is never called."""
        reason = " ".join(reason.split())[:MAX_REASON_CHARS]
        denied = self._refuse_non_reviewer(review_id, reviewer, "deny")
        if denied is not None:
            return denied
        if not reason:
            return ActionResult("reason_required", REASON_REQUIRED_MESSAGE)
        now = self._clock()
        try:
            item, won = self._store.decide_review(review_id, reviewer, False, reason, now=now)
        except ReviewRefused as exc:
            return ActionResult("not_found", str(exc))
        except StoreError as exc:
            log.error("deny %s failed: %s", review_id, exc)
            return ActionResult("unavailable", UNAVAILABLE_MESSAGE)
        if not won:
            return self._too_late(item, now)
        self._notify(self._update_card, item)
        self._notify(self._tell, item, "denied")
        return ActionResult("denied", "Denied; the requester has been told why.", item)

    def can_review(self, review_id: str, reviewer: str) -> ActionResult | None:
        """None when `reviewer` may act on the item (e.g. before opening the deny modal);
        otherwise the refusal (audited for non-reviewers)."""
        denied = self._refuse_non_reviewer(review_id, reviewer, "open deny form")
        if denied is not None:
            return denied
        try:
            item = self._store.get_review(review_id)
        except StoreError:
            return ActionResult("unavailable", UNAVAILABLE_MESSAGE)
        if item is None:
            return ActionResult("not_found", f"No review item {review_id!r}.")
        if item.status != "pending" or item.expires_at <= self._clock():
            return self._too_late(item, self._clock(), decide=False)
        return None

    # -- appeal -----------------------------------------------------------------------------

    def appeal(self, appeal: Appeal, actor: str) -> ActionResult:
        """Send a restricted-category refusal to the queue. Re-checked here, whatever the
        button said: only the requester may ask, and a hard limit is never queued."""
        if actor != appeal.user:
            self._audit_quietly(
                _appeal_entry(
                    appeal, actor, "denied_access",
                    detail=f"appeal by {actor}, not the requester",
                )
            )
            return ActionResult("not_allowed", NOT_REQUESTER_MESSAGE)
        if self.ask is None:
            return ActionResult("unavailable", UNAVAILABLE_MESSAGE)
        verdict = self.ask.check(appeal.text, appeal.channel)
        if verdict.hard_limit or verdict.stage == "error" or appeal.category in HARD_LIMIT_IDS:
            self._audit_quietly(
                _appeal_entry(
                    appeal, actor, "appeal_refused",
                    profile=verdict.profile,
                    category=verdict.category or appeal.category,
                    policy_version=verdict.policy_version,
                    detail="hard limit: not appealable",
                )
            )
            return ActionResult("hard_limit", HARD_LIMIT_MESSAGE)
        try:
            if not self._store.claim_event(f"appeal:{appeal.request_id}"):
                return ActionResult("duplicate", "A review of this request was already requested.")
            item = self._store.create_review(
                request_id=appeal.request_id,
                team=appeal.team,
                channel=appeal.channel,
                thread_ts=appeal.thread_ts,
                user=appeal.user,
                text=appeal.text,
                category=verdict.category or appeal.category,
                evidence=verdict.evidence,
                summary=f"Appeal of a refusal. {verdict.reason}".strip(),
                profile=verdict.profile,
                policy_version=verdict.policy_version,
                now=self._clock(),
            )
            self._store.record(
                AuditEntry(
                    action="review",
                    request_id=item.request_id,
                    team=item.team,
                    channel=item.channel,
                    user=actor,
                    profile=item.profile,
                    decision="appealed",
                    category=item.category,
                    policy_version=item.policy_version,
                    detail=f"appeal queued as review {item.id}",
                ),
                review_id=item.id,
            )
        except StoreError as exc:
            log.error("appeal %s failed: %s", appeal.request_id, exc)
            return ActionResult("unavailable", UNAVAILABLE_MESSAGE)
        self._post_card(item)
        return ActionResult(
            "queued", "Sent to a reviewer. You will hear back in this thread.", item
        )

    # -- expiry -----------------------------------------------------------------------------

    def expire(self, now: datetime | None = None) -> list[ReviewItem]:
        """Expire pending items past REDLINE_REVIEW_TTL_H; tell their requesters."""
        items = self._store.expire_reviews(now or self._clock())
        self.notify_expired(items)
        return items

    def notify_expired(self, items: Collection[ReviewItem]) -> None:
        """For items another path expired (e.g. `Store.housekeeping`)."""
        for item in items:
            self._notify(self._update_card, item)
            self._notify(self._tell, item, "expired")

    # -- helpers ----------------------------------------------------------------------------

    def _refuse_non_reviewer(self, review_id: str, user: str, what: str) -> ActionResult | None:
        if self.is_reviewer(user):
            return None
        item = None
        with contextlib.suppress(StoreError):
            item = self._store.get_review(review_id)
        self._audit_quietly(
            AuditEntry(
                action="review",
                request_id=item.request_id if item else "",
                team=item.team if item else "",
                channel=item.channel if item else "",
                user=user,
                profile=item.profile if item else "",
                decision="denied_access",
                category=item.category if item else None,
                detail=f"{what} review {review_id[:40]} by a non-reviewer",
            ),
            review_id=item.id if item else None,
        )
        return ActionResult("not_allowed", NOT_REVIEWER_MESSAGE, item)

    def _too_late(self, item: ReviewItem, now: datetime, *, decide: bool = True) -> ActionResult:
        if item.status == "expired":
            # This very call found it past its time and expired it: nobody told them yet.
            if decide and item.decided_at == now:
                self.notify_expired([item])
            return ActionResult(
                "expired",
                "This request expired before anyone decided; the requester was told.",
                item,
            )
        who = f"<@{item.decided_by}>" if item.decided_by else "another reviewer"
        # Re-render the card: harmless if the winner already did, a repair if it failed.
        if decide:
            self._notify(self._update_card, item)
        return ActionResult(
            "already_decided", f"Already {item.status} by {who}; nothing changed.", item
        )

    def _answer(self, item: ReviewItem) -> None:
        if self.ask is None or self._sink_for is None:
            log.error("approved review %s but no ask flow / sink is bound", item.id)
            return
        request = Request(
            text=item.text,
            user=item.user,
            channel=item.channel,
            team=item.team,
            source="review",
            request_id=item.request_id,
            thread_ts=item.thread_ts,
            extra={"review_id": item.id},
        )
        verdict = Verdict(
            decision="review",
            category=item.category,
            score=0.0,
            stage="review",
            reason="",
            policy_version=item.policy_version,
            profile=item.profile or self._settings.profile,
        )
        try:
            sink = self._sink_for(item)
        except Exception as exc:
            log.error("no reply sink for review %s: %s", item.id, type(exc).__name__)
            return
        self._approved_flow(item.category).answer_approved(request, verdict, sink)

    def _approved_flow(self, category: str | None) -> AskFlow:
        """The ask flow for an approved request: its answer is still guarded, but an answer
        in the approved category is what the reviewer approved, so it is not held again."""
        if self._engine is None or category is None:
            assert self.ask is not None
            return self.ask
        from bot.ask import AskFlow

        return AskFlow(
            self._settings,
            ApprovedCategoryEngine(self._engine, category),
            self._chat,
            audit=self._store,
        )

    def _post_card(self, item: ReviewItem) -> None:
        if self._notifier is None:
            log.warning("review %s queued but no notifier is bound: no card posted", item.id)
            return
        try:
            ref = self._notifier.post_card(item)
            if ref is not None:
                self._store.set_review_card(item.id, ref[0], ref[1])
                return
        except Exception as exc:
            log.error("review card for %s not posted: %s", item.id, type(exc).__name__)
        # Still pending (visible in /redline review and App Home); say so in the log.
        self._audit_quietly(
            AuditEntry(
                action="review",
                request_id=item.request_id,
                team=item.team,
                channel=item.channel,
                user=item.user,
                profile=item.profile,
                decision="card_failed",
                category=item.category,
                detail="review card could not be posted",
            ),
            review_id=item.id,
        )

    def _update_card(self, item: ReviewItem) -> None:
        if self._notifier is not None:
            self._notifier.update_card(item)

    def _tell(self, item: ReviewItem, outcome: str) -> None:
        if self._notifier is not None:
            self._notifier.tell_requester(item, outcome)

    def _notify(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the decision stands; the card/message is best effort
            log.error("review notification failed: %s", type(exc).__name__)

    def _audit_quietly(self, entry: AuditEntry, review_id: str | None = None) -> None:
        try:
            self._store.record(entry, review_id=review_id)
        except Exception as exc:
            log.error("audit write failed for a review action: %s", type(exc).__name__)


def _appeal_entry(appeal: Appeal, actor: str, decision: str, **fields: Any) -> AuditEntry:
    """An audit record of an action on an appeal; `fields` override the appeal's own."""
    values: dict[str, Any] = {
        "action": "review",
        "request_id": appeal.request_id,
        "team": appeal.team,
        "channel": appeal.channel,
        "user": actor,
        "profile": appeal.profile,
        "decision": decision,
        "category": appeal.category,
    }
    values.update(fields)
    return AuditEntry(**values)


class ApprovedCategoryEngine:
    """Wraps the policy engine for the answer to an approved request.

    A reviewer approved this request in this restricted category (held for review, or
    refused and appealed), so an answer in exactly that category is what they approved
    and is let through. Every other finding stands: a hard limit, another category, an
    engine error."""

    def __init__(self, engine: Engine, category: str) -> None:
        self._engine = engine
        self._category = category

    @property
    def policy(self) -> object:
        return self._engine.policy

    def decide(
        self,
        text: str,
        *,
        kind: Kind = "request",
        profile: str | None = None,
        channel: str = "",
        context: Sequence[str] = (),
    ) -> Verdict:
        verdict = self._engine.decide(
            text, kind=kind, profile=profile, channel=channel, context=context
        )
        if (
            verdict.decision != "allow"
            and verdict.category == self._category
            and not verdict.hard_limit
            and verdict.stage != "error"
        ):
            return replace(verdict, decision="allow", reason="")
        return verdict


class ReviewSweeper:
    """The app's periodic upkeep, on one daemon thread: every `interval_s`,
    `Store.housekeeping` (expire reviews past REDLINE_REVIEW_TTL_H, old event keys and
    rate counters) and the requesters of expired items are told; every `purge_every_s`
    the audit purge (REDLINE_RETENTION_DAYS; 0 keeps everything). Pending items live in
    the database, so a restart loses nothing: the first sweep after start catches up."""

    def __init__(
        self,
        service: ReviewService,
        store: Store,
        interval_s: float = 60.0,
        purge_every_s: float | None = 86_400.0,
    ) -> None:
        self._service = service
        self._store = store
        self._interval = interval_s
        self._purge_every = purge_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, now: datetime | None = None) -> int:
        """One housekeeping pass; returns how many reviews it expired."""
        try:
            done = self._store.housekeeping(now)
        except StoreError as exc:
            log.warning("housekeeping failed: %s", exc)
            return 0
        self._service.notify_expired(done.expired_reviews)
        return len(done.expired_reviews)

    def purge(self, now: datetime | None = None) -> int:
        """The retention purge (writes a checkpoint record when it deletes anything)."""
        try:
            return self._store.purge(now)
        except StoreError as exc:
            log.warning("audit purge failed: %s", exc)
            return 0

    def start(self) -> ReviewSweeper:
        def loop() -> None:
            last_purge = float("-inf")
            while not self._stop.is_set():
                self.sweep()
                if self._purge_every is not None and (
                    time.monotonic() - last_purge >= self._purge_every
                ):
                    self.purge()
                    last_purge = time.monotonic()
                self._stop.wait(self._interval)

        self._thread = threading.Thread(target=loop, name="redline-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
