"""The policy engine: one decision (allow / review / refuse) for any text, with its reasons.

Stages, cheapest first: normalise → rules from the policy file → embedded classifier →
(only in the classifier's uncertain band, when configured) the LLM judge. A request split
over several messages is also judged with the thread's recent turns. `decide` never
raises: any internal failure gives a refusal with stage "error" (a safeguard fails closed).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.policy.classifier import DEFAULT_MODEL_PATH, Classifier, Scores
from bot.policy.concepts import Lexicon
from bot.policy.judge import Judge
from bot.policy.normalize import normalize
from bot.policy.policy import Policy, load_policy
from bot.policy.rules import RuleSet
from bot.settings import Settings
from bot.types import Kind, Verdict

log = logging.getLogger(__name__)

ERROR_REASON = "The policy check failed on this message, so it was not processed. Please try again."
# How many earlier user turns are read with the current message, and how much of them.
CONTEXT_TURNS = 3
CONTEXT_CHARS = 2_000
# Short follow-ups that point back at the earlier turn ("go on", "the steps for that").
_FOLLOW_UP_TEXT = (
    "it that this those these them above previous earlier same continue go on more "
    "detail details step steps next part again finish rest full exact specifics "
    "proceed elaborate expand ok okay yes sure now then also and code version "
    "это этого дальше продолжай подробнее шаги 继续 详细 步骤 esto eso continúa pasos "
    "cela ça continue étapes das weiter schritte"
)
_FOLLOW_UP_WORDS = frozenset(_FOLLOW_UP_TEXT.split())


@dataclass(frozen=True)
class Finding:
    """What the stages found on one text, before the profile turns it into a decision."""

    category: str | None
    score: float
    stage: str
    evidence: tuple[str, ...] = ()


class PolicyEngine:
    def __init__(
        self,
        policy: Policy,
        *,
        default_profile: str = "standard",
        classifier: Classifier | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.policy = policy
        self.default_profile = (
            default_profile if default_profile in policy.profiles else policy.default_profile
        )
        self.lexicon = (
            classifier.hasher.lexicon if isinstance(classifier, Classifier) else Lexicon()
        )
        self.rules = RuleSet(policy, self.lexicon)
        self.classifier = classifier
        self.judge = judge
        self._hard = {c.id for c in policy.categories if c.hard}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        policy_path: Path | None = None,
        model_path: Path | None = None,
    ) -> PolicyEngine:
        """Load the policy file (PolicyError names file and line) and the shipped model."""
        policy = load_policy(policy_path or settings.policy_path)
        path = model_path or DEFAULT_MODEL_PATH
        classifier = Classifier.load(path) if path.is_file() else None
        if classifier is None:
            log.warning("no classifier model at %s: the engine runs on rules only", path)
        judge = Judge.from_settings(settings, policy)
        return cls(policy, default_profile=settings.profile, classifier=classifier, judge=judge)

    def profile_for_channel(self, channel: str) -> str:
        return self.policy.channel_profiles.get(channel, self.default_profile)

    # ------------------------------------------------------------------ decide

    def decide(
        self,
        text: str,
        *,
        kind: Kind = "request",
        profile: str | None = None,
        channel: str = "",
        context: Sequence[str] = (),
    ) -> Verdict:
        start = time.perf_counter()
        chosen = profile or self.profile_for_channel(channel)
        try:
            if chosen not in self.policy.profiles:
                raise ValueError(f"unknown profile {chosen!r}")
            finding = self._assess_with_context(str(text), kind, list(context or ()))
            verdict = self._verdict(finding, kind, chosen)
        except Exception:  # noqa: BLE001 - the safeguard fails closed on anything
            log.exception("policy engine failure; refusing")
            verdict = Verdict(
                decision="refuse", category=None, score=1.0, stage="error",
                reason=ERROR_REASON, policy_version=self.policy.version, profile=str(chosen),
                kind=kind, hard_limit=False,
            )
        return replace(verdict, latency_ms=(time.perf_counter() - start) * 1000.0)

    def _verdict(self, finding: Finding, kind: Kind, profile: str) -> Verdict:
        if finding.category is None:
            return Verdict(
                decision="allow", category=None, score=0.0, stage=finding.stage, reason="",
                policy_version=self.policy.version, profile=profile, kind=kind,
                evidence=finding.evidence,
            )
        cat = self.policy.category(finding.category)
        decision = cat.decision(profile)
        return Verdict(
            decision=decision,  # type: ignore[arg-type]
            category=cat.id,
            score=round(float(finding.score), 4),
            stage=finding.stage,
            reason="" if decision == "allow" else cat.reason,
            policy_version=self.policy.version,
            profile=profile,
            kind=kind,
            hard_limit=cat.hard,
            evidence=finding.evidence,
        )

    # ------------------------------------------------------------------ stages

    def _assess_with_context(self, text: str, kind: Kind, context: list[str]) -> Finding:
        """Judge the message alone and together with the thread's recent user turns.

        The stronger signal wins (a hard limit over a restricted category, then the higher
        score), but only when the current message takes part in it: if the earlier turns
        were already flagged on their own (and so answered with a refusal), an unrelated
        new message is judged alone, so one refusal does not poison the thread for ever;
        a short follow-up pointing back at them ("go on", "step 2 in detail") is not.
        """
        current = self._assess(text, kind)
        if not context or kind != "request":
            return current
        turns = [t for t in context[-CONTEXT_TURNS:] if t and t.strip()]
        if not turns:
            return current
        # the last turn alone with this one, and the last few: the first is not diluted,
        # the second sees a request spread wider
        best: tuple[Finding, str] | None = None
        for n in sorted({1, len(turns)}):
            earlier = " \n ".join(turns[-n:])[-CONTEXT_CHARS:]
            found = self._assess(earlier + " \n " + text, kind)
            if found.category is not None and (best is None or self._stronger(found, best[0])):
                best = (found, earlier)
        if best is None or not self._stronger(best[0], current):
            return current
        joined, earlier = best
        before = self._assess(earlier, kind)
        if before.category is None or self._stronger(joined, before, margin=0.15):
            # the earlier turns alone were fine (or clearly weaker): together they ask it
            return replace(joined, stage="context", evidence=joined.evidence + ("(thread)",))
        if current.category is None and self._is_follow_up(text):
            return replace(before, stage="context", evidence=before.evidence + ("(follow-up)",))
        return current

    def _stronger(self, a: Finding, b: Finding, margin: float = 0.0) -> bool:
        """Whether finding `a` is a stronger signal than `b`."""
        if a.category is None:
            return False
        if b.category is None:
            return True
        a_hard, b_hard = a.category in self._hard, b.category in self._hard
        if a_hard != b_hard:
            return a_hard
        return a.score > b.score + margin

    @staticmethod
    def _is_follow_up(text: str) -> bool:
        words = normalize(text).split()
        if not words or len(words) > 14:
            return False
        hits = sum(1 for w in words if w.strip(".,!?;:") in _FOLLOW_UP_WORDS)
        return hits >= 1 and hits / len(words) >= 0.2

    def _assess(self, text: str, kind: Kind) -> Finding:
        normalised = normalize(text)
        if not normalised:
            return Finding(None, 0.0, "default")
        spans = self.lexicon.split_spans(normalised)
        sentences = [(normalised[a:b], names) for a, b, names in spans]
        hit = self.rules.first_match(normalised, kind, sentences)
        if hit is not None and (hit.category in self._hard or self.classifier is None):
            return Finding(hit.category, 1.0, "rules", (f"rule {hit.rule}: {hit.span!r}",))
        if self.classifier is None:
            return Finding(None, 0.0, "default")
        scores = self.classifier.score(normalised, kind, spans)
        if hit is not None:
            # a restricted rule fired; the classifier may still see the hard limit behind
            # it (unmasking one critic vs every critic): red lines first
            category, prob = scores.top_category()
            if category in self._hard and prob >= scores.threshold(category):
                evidence = self.classifier.evidence(normalised, category, scores)
                return Finding(category, prob, "classifier", evidence)
            return Finding(hit.category, 1.0, "rules", (f"rule {hit.rule}: {hit.span!r}",))
        return self._from_scores(text, normalised, scores, kind, spans)

    def _from_scores(
        self, text: str, normalised: str, scores: Scores, kind: Kind,
        spans: list[tuple[int, int, set[str]]] | None = None,
    ) -> Finding:
        assert self.classifier is not None
        if spans is not None and _too_thin_to_flag(normalised, spans):
            # "hi", "no", "question 0": a handful of words naming nothing the policy is
            # about carries no evidence; the classifier's prior alone must not refuse it.
            # (In a thread, the joined text is judged too, so a short follow-up to a
            # harmful request is still caught.)
            return Finding(None, 0.0, "classifier")
        category, prob = scores.top_category()
        flagged = prob >= scores.threshold(category)
        if self.judge is not None and scores.uncertain(category):
            answer = self.judge.classify(text, kind)
            if answer is None:
                # the judge could not answer: fail closed on a hard-limit candidate
                if category in self._hard:
                    return Finding(category, prob, "judge", ("judge unavailable: fail closed",))
            elif answer.category is None:
                return Finding(None, 0.0, "judge", (answer.rationale,) if answer.rationale else ())
            else:
                return Finding(answer.category, max(prob, answer.confidence), "judge",
                               (answer.rationale,) if answer.rationale else ())
        if not flagged:
            return Finding(None, 0.0, "classifier")
        evidence = self.classifier.evidence(normalised, category, scores)
        return Finding(category, prob, "classifier", evidence)


# Concept groups of bot/policy/concepts.py that name what the policy is about (as opposed
# to intent or context words such as "ask", "discuss", "game").
_SUBJECT_CONCEPTS = frozenset(
    {"cbrn", "autonomy", "weapon", "population", "surveil", "person", "covert", "cyber",
     "wmake", "military", "roleplay"}
)
_THIN_WORDS = 6
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff]")


def _too_thin_to_flag(normalised: str, spans: list[tuple[int, int, set[str]]]) -> bool:
    """Fewer than a few words and none of them a policy subject."""
    # the first _THIN_WORDS word runs settle it; only a text with fewer needs its CJK count
    words = sum(1 for _ in itertools.islice(_WORD.finditer(normalised), _THIN_WORDS))
    if words >= _THIN_WORDS:
        return False
    words += len(_CJK.findall(normalised)) // 2
    if words >= _THIN_WORDS:
        return False
    return not any(names & _SUBJECT_CONCEPTS for _, _, names in spans)
