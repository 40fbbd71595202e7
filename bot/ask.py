"""The ask flow: guard the input, then refuse, hold for review, or call the model and guard
its answer chunk by chunk before any of it is shown.

Transport-free: it knows `Request`, `Verdict` and a `ReplySink`; Slack and the console
each implement the sink. Every decision goes to the audit sink before anything is shown,
and if the decision cannot be made or recorded the request does not reach the model.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.model import ChatClient, ChatMessage, ModelError
from bot.settings import Settings
from bot.types import AuditEntry, Kind, Request, Turn, Verdict

log = logging.getLogger(__name__)

# Text not yet covered by a passing check is held back; this much more is held back so a
# violation whose decisive words arrive in the next chunk is never partly displayed.
STREAM_HOLDBACK_CHARS = 160
# Re-check the accumulated answer once this much new text has arrived (and always at the end).
STREAM_CHECK_EVERY_CHARS = 48
# Mid-stream checks read only this much of the tail (it always covers the new text and the
# hold-back); the final check reads the whole answer. Keeps a 40,000-char answer from
# costing hundreds of full re-reads.
STREAM_CHECK_WINDOW_CHARS = 3_000
POLICY_CONTEXT_TURNS = 4
DEFAULT_SYSTEM_PROMPT = (
    "You are Redline, a helpful assistant for a team working in Slack. Answer clearly and "
    "concisely, using Slack-friendly formatting. You operate under a usage policy enforced "
    "outside of you; do not claim you can change it."
)
ENGINE_FAILED_MESSAGE = (
    "The policy check could not be completed, so your request was not sent to the model. "
    "Please try again in a moment."
)
AUDIT_FAILED_MESSAGE = (
    "Redline's database is unavailable, so the policy decision could not be recorded and "
    "your request was not sent to the model. Please try again in a moment."
)
NO_MODEL_MESSAGE = (
    "No model is configured (LLM_PROVIDER=none), so there is no answer; the policy decision "
    "above is what Redline would enforce."
)
UNEXPECTED_MESSAGE = "Something went wrong while answering; the error was logged. Please try again."


class ReplySink(Protocol):
    """Where the ask flow's output goes."""

    def refused(self, verdict: Verdict, appealable: bool) -> None: ...
    def held(self, verdict: Verdict, review_id: str) -> None: ...
    def thinking(self) -> None: ...
    def stream_update(self, visible_text: str) -> None: ...
    def stream_retract(self, verdict: Verdict) -> None: ...
    def finished(self, text: str) -> None: ...
    def failed(self, message: str) -> None: ...


class Engine(Protocol):
    def decide(
        self,
        text: str,
        *,
        kind: Kind = "request",
        profile: str | None = None,
        channel: str = "",
        context: Sequence[str] = (),
    ) -> Verdict: ...

    @property
    def policy(self) -> Any: ...  # has .channel_profiles: Mapping[str, str]


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> object: ...


class ReviewQueue(Protocol):
    """Holds a request for a human reviewer; returns the review id."""

    def hold(self, request: Request, verdict: Verdict) -> str: ...


@dataclass(frozen=True)
class AskOutcome:
    request_id: str
    outcome: str  # answered | refused | held | withheld | failed | no_model
    verdict: Verdict
    answer: str = ""
    output_verdict: Verdict | None = None
    review_id: str = ""
    message: str = ""


class AskFlow:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        chat: ChatClient | None,
        audit: AuditSink | None = None,
        reviews: ReviewQueue | None = None,
        channel_profiles: Callable[[str], str | None] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._chat = chat
        self._audit = audit
        self._reviews = reviews
        self._channel_profiles = channel_profiles

    # -- public -----------------------------------------------------------------------

    def profile_for(self, channel: str) -> str:
        """A channel override set by an admin wins over the policy file's, then the default."""
        if self._channel_profiles is not None and channel:
            override = self._channel_profiles(channel)
            if override:
                return override
        return self._engine.policy.channel_profiles.get(channel) or self._settings.profile

    def with_profile(self, profile: str) -> AskFlow:
        """The same flow with another default profile (the console's `/profile`)."""
        return AskFlow(
            replace(self._settings, profile=profile), self._engine, self._chat,
            self._audit, self._reviews, self._channel_profiles,
        )

    def check(self, text: str, channel: str = "", kind: Kind = "request") -> Verdict:
        """A decision only (for `/redline check`): never calls the model."""
        return self._decide(text, kind=kind, profile=self.profile_for(channel), channel=channel)

    def handle(self, request: Request, sink: ReplySink) -> AskOutcome:
        request = request if request.request_id else replace(request, request_id=_new_id())
        try:
            return self._handle(request, sink)
        except Exception:  # the sink must always hear back, whatever broke
            log.exception("ask flow failed request_id=%s", request.request_id)
            sink.failed(UNEXPECTED_MESSAGE)
            return AskOutcome(request.request_id, "failed", _error_verdict(self._settings),
                              message=UNEXPECTED_MESSAGE)

    def answer_approved(self, request: Request, verdict: Verdict, sink: ReplySink) -> AskOutcome:
        """Run the model for a request a reviewer approved (the input guard already held it)."""
        request = request if request.request_id else replace(request, request_id=_new_id())
        try:
            return self._answer(request, verdict, sink)
        except Exception:
            log.exception("approved answer failed request_id=%s", request.request_id)
            sink.failed(UNEXPECTED_MESSAGE)
            return AskOutcome(request.request_id, "failed", verdict, message=UNEXPECTED_MESSAGE)

    # -- steps --------------------------------------------------------------------------

    def _handle(self, request: Request, sink: ReplySink) -> AskOutcome:
        try:
            profile = self.profile_for(request.channel)
        except Exception:
            # The channel's profile lives in the store: if it cannot be read, neither can
            # the decision be recorded, so fail closed with the same message.
            log.exception("channel profile lookup failed request_id=%s", request.request_id)
            sink.failed(AUDIT_FAILED_MESSAGE)
            return AskOutcome(request.request_id, "failed", _error_verdict(self._settings),
                              message=AUDIT_FAILED_MESSAGE)
        context = [t.text for t in request.history if t.role == "user"][-POLICY_CONTEXT_TURNS:]
        verdict = self._decide(
            request.text, kind="request", profile=profile, channel=request.channel, context=context
        )
        # Sinks that show every decision (the console) get it before anything else.
        decided = getattr(sink, "decided", None)
        if callable(decided):
            decided(verdict)
        if not self._audit_verdict(request, verdict, "request"):
            sink.failed(AUDIT_FAILED_MESSAGE)
            return AskOutcome(request.request_id, "failed", verdict, message=AUDIT_FAILED_MESSAGE)

        if verdict.stage == "error":
            sink.failed(ENGINE_FAILED_MESSAGE)
            return AskOutcome(request.request_id, "failed", verdict, message=ENGINE_FAILED_MESSAGE)
        if verdict.decision == "refuse":
            sink.refused(verdict, appealable=self._appealable(verdict))
            return AskOutcome(request.request_id, "refused", verdict)
        if verdict.decision == "review":
            review_id = self._reviews.hold(request, verdict) if self._reviews else ""
            sink.held(verdict, review_id)
            return AskOutcome(request.request_id, "held", verdict, review_id=review_id)
        return self._answer(request, verdict, sink)

    def _answer(self, request: Request, verdict: Verdict, sink: ReplySink) -> AskOutcome:
        if self._chat is None:
            sink.failed(NO_MODEL_MESSAGE)
            return AskOutcome(request.request_id, "no_model", verdict, message=NO_MODEL_MESSAGE)
        messages = self._messages(request)
        profile = verdict.profile or self.profile_for(request.channel)
        guard = _StreamGuard(
            lambda text: self._decide(
                text, kind="response", profile=profile, channel=request.channel
            )
        )
        started = time.perf_counter()
        sink.thinking()
        chunks: Iterable[str] = ()
        try:
            chunks = (
                self._chat.stream(messages)
                if self._settings.llm_stream
                else [self._chat.complete(messages)]
            )
            for chunk in chunks:
                visible = guard.feed(chunk)
                if guard.blocked is not None:
                    break
                if visible is not None:
                    sink.stream_update(visible)
            if guard.blocked is None:
                guard.finish()
        except ModelError as exc:
            latency = (time.perf_counter() - started) * 1000
            self._audit_error(request, profile, f"model {exc.kind}", latency)
            sink.failed(exc.user_message)
            return AskOutcome(request.request_id, "failed", verdict, message=exc.user_message)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # stop reading a stream we no longer want
                close()
        latency = (time.perf_counter() - started) * 1000

        out = guard.blocked or guard.last_verdict
        if out is not None:
            self._audit_verdict(request, out, "response", latency_ms=latency, text=guard.text)
        if guard.blocked is not None:
            sink.stream_retract(guard.blocked)
            return AskOutcome(
                request.request_id, "withheld", verdict, output_verdict=guard.blocked
            )
        if not guard.text.strip():
            message = "The model returned an empty answer. Please try rephrasing."
            sink.failed(message)
            return AskOutcome(request.request_id, "failed", verdict, message=message)
        sink.finished(guard.text)
        return AskOutcome(request.request_id, "answered", verdict, answer=guard.text,
                          output_verdict=out)

    # -- helpers ------------------------------------------------------------------------

    def _decide(
        self,
        text: str,
        *,
        kind: Kind,
        profile: str,
        channel: str,
        context: Sequence[str] = (),
    ) -> Verdict:
        try:
            return self._engine.decide(
                text, kind=kind, profile=profile, channel=channel, context=context
            )
        except Exception:
            # Fail closed: an engine that cannot decide never lets the text through.
            log.exception("policy engine failed (kind=%s)", kind)
            return _error_verdict(self._settings, profile=profile, kind=kind)

    def _appealable(self, verdict: Verdict) -> bool:
        return (
            self._reviews is not None
            and not verdict.hard_limit
            and verdict.category is not None
            and verdict.stage != "error"
        )

    def _messages(self, request: Request) -> list[ChatMessage]:
        system = self._settings.llm_system_prompt or DEFAULT_SYSTEM_PROMPT
        history = fit_history(request.history, self._settings.thread_context_chars)
        return [
            ChatMessage("system", system),
            *(ChatMessage(turn.role, turn.text) for turn in history),
            ChatMessage("user", request.text),
        ]

    def _audit_verdict(
        self,
        request: Request,
        verdict: Verdict,
        action: str,
        latency_ms: float | None = None,
        text: str | None = None,
    ) -> bool:
        if self._audit is None:
            return True
        entry = AuditEntry(
            action=action,
            request_id=request.request_id,
            team=request.team,
            channel=request.channel,
            user=request.user,
            profile=verdict.profile,
            decision=verdict.decision,
            category=verdict.category,
            stage=verdict.stage,
            score=verdict.score,
            policy_version=verdict.policy_version,
            model=self._chat.model if (self._chat and action == "response") else "",
            latency_ms=verdict.latency_ms if latency_ms is None else latency_ms,
            text=request.text if text is None else text,
            detail=request.source,
        )
        try:
            self._audit.record(entry)
            return True
        except Exception:
            log.exception("audit write failed request_id=%s", request.request_id)
            return False

    def _audit_error(self, request: Request, profile: str, detail: str, latency: float) -> None:
        if self._audit is None:
            return
        try:
            self._audit.record(
                AuditEntry(
                    action="error", request_id=request.request_id, team=request.team,
                    channel=request.channel, user=request.user, profile=profile,
                    decision="error", model=self._chat.model if self._chat else "",
                    latency_ms=latency, detail=detail,
                )
            )
        except Exception:
            log.exception("audit write failed request_id=%s", request.request_id)


class _StreamGuard:
    """Accumulates an answer and releases only text that has passed the output guard.

    Every chunk is added to the candidate text; the whole candidate is checked at least
    every STREAM_CHECK_EVERY_CHARS new characters. Only text up to the last passing check,
    minus a hold-back tail, is released, so nothing is displayed before it was checked.
    """

    def __init__(self, decide: Callable[[str], Verdict]) -> None:
        self._decide = decide
        self.text = ""
        self._checked_len = 0
        self._released = 0
        self.blocked: Verdict | None = None
        self.last_verdict: Verdict | None = None

    def feed(self, chunk: str) -> str | None:
        """Add a chunk; return the newly visible text (all of it so far) or None."""
        self.text += chunk
        if len(self.text) - self._checked_len < STREAM_CHECK_EVERY_CHARS:
            return None
        if not self._check():
            return None
        return self._release(len(self.text) - STREAM_HOLDBACK_CHARS)

    def finish(self) -> None:
        self._check(whole=True)

    def _check(self, whole: bool = False) -> bool:
        window = self.text if whole else self.text[-STREAM_CHECK_WINDOW_CHARS:]
        verdict = self._decide(window)
        self.last_verdict = verdict
        self._checked_len = len(self.text)
        if verdict.decision != "allow" or verdict.stage == "error":
            self.blocked = verdict
            return False
        return True

    def _release(self, upto: int) -> str | None:
        if upto <= self._released:
            return None
        # Break at whitespace so a word is never shown half-way.
        cut = self.text.rfind(" ", self._released, upto)
        cut = upto if cut <= self._released else cut
        if cut <= self._released:
            return None
        self._released = cut
        return self.text[:cut]


def fit_history(history: Sequence[Turn], budget_chars: int) -> list[Turn]:
    """The newest turns that fit in `budget_chars`, oldest dropped first, order kept."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(history):
        used += len(turn.text)
        if used > budget_chars:
            break
        kept.append(turn)
    kept.reverse()
    return kept


def _error_verdict(settings: Settings, profile: str = "", kind: Kind = "request") -> Verdict:
    return Verdict(
        decision="refuse",
        category=None,
        score=1.0,
        stage="error",
        reason="The policy engine could not decide, so the text was not let through.",
        policy_version="",
        profile=profile or settings.profile,
        kind=kind,
    )


def _new_id() -> str:
    return uuid.uuid4().hex[:16]
