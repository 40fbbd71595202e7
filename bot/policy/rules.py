"""Stage (a): the policy file's precise patterns, run on normalised text."""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.policy import Policy, Rule


@dataclass(frozen=True)
class RuleHit:
    rule: str
    category: str
    span: str


class RuleSet:
    """All rules of a policy, hard limits first (the policy orders its categories so)."""

    def __init__(self, policy: Policy) -> None:
        self._rules: tuple[Rule, ...] = policy.rules

    def first_match(self, normalised: str, kind: str = "request") -> RuleHit | None:
        for rule in self._rules:
            span = rule.match(normalised, kind)
            if span is not None:
                return RuleHit(rule=rule.id, category=rule.category, span=span[:120])
        return None

    def __len__(self) -> int:
        return len(self._rules)
