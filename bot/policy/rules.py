"""Stage (a): the policy file's precise patterns, run on normalised text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bot.policy.concepts import Lexicon
from bot.policy.literals import Screen, odds
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
    sentences worth running its regexes on, which keeps long texts cheap; and a sentence
    lacking the literals one of them needs (bot.policy.literals) is not searched at all.
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
        self._screen = Screen([p for rule in self._rules for p in rule.all])
        # for each rule, a test for each literal set its patterns need (every one must be
        # met), the quickest first
        self._needs = tuple(
            tuple(self._screen.test(strings) for strings in sorted(
                (s for p in order for s in self._screen.needs[p]),
                key=lambda strings: (len(strings), odds(strings)),
            ))
            for order in self._order
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
        by_when: dict[tuple[str, ...], list[tuple[str, bool]]] = {}
        plain: dict[str, bool] = {}  # Screen.plain of each text tried
        for rule, order, needs in zip(self._rules, self._order, self._needs, strict=True):
            if kind not in rule.kinds or not everything.issuperset(rule.when):
                continue
            span = None
            if short:
                if normalised not in plain:
                    plain[normalised] = self._screen.plain(normalised)
                span = _match(rule, order, needs, normalised, plain[normalised], kind)
            if span is None and (len(sentences) > 1 or not short):
                # the sentences holding the rule's concepts, in order (rules share them)
                candidates = by_when.get(rule.when)
                if candidates is None:
                    candidates = by_when[rule.when] = []
                    for sentence, names in sentences:
                        if names.issuperset(rule.when):
                            if sentence not in plain:
                                plain[sentence] = self._screen.plain(sentence)
                            candidates.append((sentence, plain[sentence]))
                for sentence, is_plain in candidates:
                    span = _match(rule, order, needs, sentence, is_plain, kind)
                    if span is not None:
                        break
            if span is not None:
                return RuleHit(rule=rule.id, category=rule.category, span=span[:120])
        return None

    def __len__(self) -> int:
        return len(self._rules)


def _match(
    rule: Rule,
    order: tuple[re.Pattern[str], ...],
    needs: tuple[Callable[[str], bool], ...],
    text: str,
    plain: bool,
    kind: str,
) -> str | None:
    """`rule.match(text)`, its `all` patterns searched in `order`; on a `plain` text, first
    whether it holds a string of each literal set they need (bot.policy.literals: far
    cheaper than a search, and most sentences fail it)."""
    if plain:
        for holds in needs:
            if not holds(text):
                return None
    return rule.match(text, kind, order)
