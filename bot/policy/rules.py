"""Stage (a): the policy file's precise patterns, run on normalised text."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.policy.concepts import Lexicon
from bot.policy.policy import Policy, Rule


@dataclass(frozen=True)
class RuleHit:
    rule: str
    category: str
    span: str


SHORT_TEXT = 600  # up to this length a rule may also match across sentences


class RuleSet:
    """All rules of a policy, hard limits first (the policy orders its categories so).

    Rules run sentence by sentence (a history question in the first sentence must not
    shelter an operational ask in the second, and an `unless` word only excuses its own
    sentence); a short text is also tried whole, so an ask split over two short sentences
    is seen. A rule's `when` concepts (the lexicon of bot.policy.concepts) pick the
    sentences worth running its regexes on, which keeps long texts cheap.
    """

    def __init__(self, policy: Policy, lexicon: Lexicon | None = None) -> None:
        self._rules: tuple[Rule, ...] = policy.rules
        self._lexicon = lexicon or Lexicon()
        # the order a rule's `all` patterns are tried in (any order gives the same answer):
        # patterns that several rules share are the generic ones (an "ask" of any kind) and
        # pass on most sentences, so they go last; then the longest (most specific) first
        shared = Counter((p.pattern, p.flags) for rule in self._rules for p in set(rule.all))
        self._order = tuple(
            tuple(sorted(rule.all, key=lambda p: (shared[p.pattern, p.flags], -len(p.pattern))))
            for rule in self._rules
        )

    def first_match(
        self,
        normalised: str,
        kind: str = "request",
        sentences: list[tuple[str, set[str]]] | None = None,
    ) -> RuleHit | None:
        if sentences is None:
            sentences = self._lexicon.split(normalised)
        everything: set[str] = set().union(*(names for _, names in sentences))
        short = len(normalised) <= SHORT_TEXT
        by_when: dict[tuple[str, ...], list[str]] = {}
        for rule, order in zip(self._rules, self._order, strict=True):
            if kind not in rule.kinds or not everything.issuperset(rule.when):
                continue
            span = None
            if short and _all_found(order, normalised):
                span = rule.match(normalised, kind)
            if span is None and (len(sentences) > 1 or not short):
                # the sentences holding the rule's concepts, in order (rules share them)
                candidates = by_when.get(rule.when)
                if candidates is None:
                    candidates = by_when[rule.when] = [
                        sentence for sentence, names in sentences if names.issuperset(rule.when)
                    ]
                for sentence in candidates:
                    if _all_found(order, sentence):
                        span = rule.match(sentence, kind)
                        if span is not None:
                            break
            if span is not None:
                return RuleHit(rule=rule.id, category=rule.category, span=span[:120])
        return None

    def __len__(self) -> int:
        return len(self._rules)


def _all_found(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    """Every one of a rule's `all` patterns occurs in `text` (tried in the given order)."""
    return all(p.search(text) for p in patterns)
