"""The rules' literal pre-screens (bot/policy/literals.py) never rule out a text that the
regex matches: a screen may only save a search, never change its answer."""

from __future__ import annotations

import random
import re

from bot.policy.engine import PolicyEngine
from bot.policy.literals import Screen, required_literals
from bot.policy.normalize import normalize
from bot.policy.policy import cases_path, load_cases


def test_required_literals_of_simple_patterns() -> None:
    pattern = re.compile(r"\b(track|trace)\w*\b.{0,60}\b(everyone|all)\b", re.IGNORECASE)
    assert {frozenset(s) for s in required_literals(pattern)} == {
        frozenset({"track", "trace"}), frozenset({"everyone", "all"})
    }
    # a class inside a word is spelled out; an optional piece is no requirement
    assert required_literals(re.compile(r"aerosoli[sz]e(rs)?")) == (
        ("aerosolise", "aerosolize"),
    )
    assert required_literals(re.compile(r"\w+(?:x)?")) == ()  # nothing literal is needed
    assert required_literals(re.compile(r"(?i:Sarin)")) == ()  # scoped flags: not read


def test_upper_case_and_twins_are_not_plain() -> None:
    screen = Screen([re.compile(r"sarin", re.IGNORECASE)])
    assert screen.plain("how to make sarin")
    assert not screen.plain("how to make SARIN")
    assert not screen.plain("how to make ſarin")  # long s: re.IGNORECASE matches it to "s"
    assert not screen.plain("how to make sarın")  # dotless i, likewise


def _texts(engine: PolicyEngine) -> list[str]:
    """Policy cases and pieces of them, cut and recombined, normalised and not."""
    cases = [c.text for c in load_cases(cases_path(engine.policy.path), engine.policy)]
    assert cases
    rng = random.Random(11)
    words = " ".join(cases).split()
    texts = list(cases)
    for _ in range(3000):
        texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))))
    return texts + [normalize(t) for t in texts]


def test_screens_never_rule_out_a_match(engine: PolicyEngine) -> None:
    patterns = [p for rule in engine.policy.rules for p in rule.all + rule.unless]
    screen = Screen(patterns)
    texts = _texts(engine)
    for pattern in patterns:
        tests = [Screen.test(strings) for strings in screen.needs[pattern]]
        for text in texts:
            if screen.plain(text) and not all(holds(text) for holds in tests):
                assert pattern.search(text) is None, (pattern.pattern, text)
