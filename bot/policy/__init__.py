"""The policy engine: policy file, normalisation, rules, classifier, judge."""

from bot.policy.engine import PolicyEngine
from bot.policy.policy import Policy, PolicyError, load_policy

__all__ = ["Policy", "PolicyEngine", "PolicyError", "load_policy"]
