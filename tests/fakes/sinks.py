"""A ReplySink that records what a user would have seen, in order (for ask-flow tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.types import Verdict


@dataclass
class RecordingSink:
    """What the user saw, in order."""

    events: list[tuple[str, object]] = field(default_factory=list)

    def decided(self, verdict: Verdict) -> None:
        self.events.append(("decided", verdict))

    def refused(self, verdict: Verdict, appealable: bool) -> None:
        self.events.append(("refused", (verdict, appealable)))

    def held(self, verdict: Verdict, review_id: str) -> None:
        self.events.append(("held", (verdict, review_id)))

    def thinking(self) -> None:
        self.events.append(("thinking", None))

    def stream_update(self, visible_text: str) -> None:
        self.events.append(("update", visible_text))

    def stream_retract(self, verdict: Verdict) -> None:
        self.events.append(("retract", verdict))

    def finished(self, text: str) -> None:
        self.events.append(("finished", text))

    def failed(self, message: str) -> None:
        self.events.append(("failed", message))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]

    def shown_texts(self) -> list[str]:
        return [str(v) for k, v in self.events if k in ("update", "finished")]
