"""`redline console`: the ask flow in a terminal, on embedded defaults.

The whole session is one thread, so follow-ups carry context to the model and to the
policy engine, as in Slack. Each request's policy decision is printed before the answer.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from typing import TextIO

from bot.services import Services, build_services
from bot.settings import Settings
from bot.types import Request, Turn, Verdict

HELP = """Type a question and press Enter. Commands:
  /check <text>   the policy decision only (the model is not called)
  /profile [P]    show or set the profile (standard | all_lawful_purposes)
  /new            start a new thread (forget the conversation)
  /quit           leave (or Ctrl-D)"""


def describe(verdict: Verdict) -> str:
    """One line a person can read: the decision and why."""
    parts = [f"policy: {verdict.decision.upper()}"]
    if verdict.category:
        kind = "hard limit" if verdict.hard_limit else "restricted"
        parts.append(f"{verdict.category} ({kind})")
    parts.append(f"profile {verdict.profile}")
    parts.append(f"stage {verdict.stage}")
    parts.append(f"score {verdict.score:.2f}")
    line = " · ".join(parts)
    if verdict.reason and verdict.decision != "allow":
        line += f"\n  reason: {verdict.reason}"
    if verdict.evidence and verdict.decision != "allow":
        line += f"\n  evidence: {verdict.evidence[0][:160]}"
    return line


@dataclass
class ConsoleSink:
    """Prints the flow's output; shows only the final, guarded answer."""

    out: TextIO
    answer: str = ""
    events: list[str] = field(default_factory=list)

    def decided(self, verdict: Verdict) -> None:
        self._print(describe(verdict))

    def refused(self, verdict: Verdict, appealable: bool) -> None:
        self.events.append("refused")
        note = " (an admin can review this category on request)" if appealable else ""
        self._print(f"Refused: {verdict.reason or 'this request is outside the policy.'}{note}")

    def held(self, verdict: Verdict, review_id: str) -> None:
        self.events.append("held")
        where = f" as review {review_id}" if review_id else ""
        self._print(
            f"Held for human review{where}: {verdict.category}. In Slack a reviewer would "
            "approve or deny it; the console has no reviewer."
        )

    def thinking(self) -> None:
        self.events.append("thinking")

    def stream_update(self, visible_text: str) -> None:
        self.events.append("update")

    def stream_retract(self, verdict: Verdict) -> None:
        self.events.append("withheld")
        self._print(f"The answer was withheld: it fell under {verdict.category} ({verdict.reason})")

    def finished(self, text: str) -> None:
        self.events.append("finished")
        self.answer = text
        self._print(text)

    def failed(self, message: str) -> None:
        self.events.append("failed")
        self._print(message)

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def run_console(args: argparse.Namespace, settings: Settings) -> int:
    if args.profile:
        settings = replace(settings, profile=args.profile)
    services = build_services(settings, with_reviews=False)
    try:
        return console_loop(services, sys.stdin, sys.stdout, user=args.user)
    finally:
        services.close()


def console_loop(services: Services, stdin: TextIO, stdout: TextIO, user: str = "console") -> int:
    settings = services.settings
    model = services.chat.model if services.chat else None
    interactive = stdin.isatty()
    print(
        f"Redline console · profile {settings.profile} · policy {services.engine.policy.version}"
        f" · model {model or 'none (set LLM_PROVIDER to get answers)'}",
        file=stdout,
    )
    if interactive:
        print(HELP, file=stdout)
    history: list[Turn] = []
    profile = settings.profile
    ask = services.ask
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            return 0
        if text == "/help":
            print(HELP, file=stdout)
            continue
        if text == "/new":
            history.clear()
            print("(new thread)", file=stdout)
            continue
        if text.startswith("/profile"):
            wanted = text.removeprefix("/profile").strip()
            if wanted:
                if wanted not in ("standard", "all_lawful_purposes"):
                    print("profiles: standard, all_lawful_purposes", file=stdout)
                    continue
                profile = wanted
                ask = ask.with_profile(profile)
            print(f"profile: {profile}", file=stdout)
            continue
        if text.startswith("/check"):
            verdict = ask.check(text.removeprefix("/check").strip(), channel="console")
            print(describe(verdict), file=stdout)
            continue
        sink = ConsoleSink(stdout)
        request = Request(
            text=text, user=user, channel="console", history=tuple(history), source="console"
        )
        outcome = ask.handle(request, sink)
        history.append(Turn("user", text))
        if outcome.answer:
            history.append(Turn("assistant", outcome.answer))
