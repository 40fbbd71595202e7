"""Literal pre-screens for the policy's regexes: strings that no match can do without.

`required_literals(pattern)` gives sets of literal strings such that every match holds a
string of each set: `\\b(track|trace)\\w*.{0,60}\\b(everyone|all)\\b` needs "track" or
"trace", and "everyone" or "all". A text holding no string of one set cannot match, and
`str.__contains__` says so far faster than `re` can (an alternation of words in front of a
`.{0,60}` is tried at every position of the text).

Case: under re.IGNORECASE a pattern letter also matches its upper-case forms and a few
look-alike twins ("i" matches "ı", "s" matches "ſ"), so a missing lower-case literal
proves nothing about a text holding those. `Screen.plain(text)` is whether a text has
none of them; only then may a screen rule the pattern out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial

import ahocorasick_rs

try:  # CPython's own tables (3.11+); without them no pattern is screened
    import re._casefix as _casefix
    import re._constants as _sre
    import re._parser as _parser
except ImportError:  # pragma: no cover - another Python implementation
    _casefix = _sre = _parser = None  # type: ignore[assignment]

_LIMIT = 64  # most strings spelled out for a piece (an alternation of words, [sz] in one)
_MOST_NEEDED = 256  # most strings of a set to test
_FEW = 12  # up to this many strings, `in` one by one beats an Aho-Corasick pass
_SHORT_RANGE = 8  # a class range up to this wide is spelled out ([0-4])


@dataclass(frozen=True)
class _Info:
    """What is known of the strings one piece of a pattern matches."""

    exact: frozenset[str] | None  # all of them, when few
    needs: tuple[frozenset[str], ...] = ()  # each match holds a member of every set


_UNKNOWN = _Info(None)
_EMPTY = _Info(frozenset({""}))  # zero-width: \b, ^, lookarounds


def _item(op: object, av: object) -> _Info:
    if op is _sre.LITERAL:
        return _Info(frozenset({chr(av)}))  # type: ignore[arg-type]
    if op is _sre.IN:
        chars: set[str] = set()
        for op2, av2 in av:  # type: ignore[attr-defined]
            if op2 is _sre.LITERAL:
                chars.add(chr(av2))
            elif op2 is _sre.RANGE and av2[1] - av2[0] < _SHORT_RANGE:
                chars.update(chr(c) for c in range(av2[0], av2[1] + 1))
            else:  # NEGATE, categories (\w, \d), wide ranges
                return _UNKNOWN
        return _Info(frozenset(chars))
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return _EMPTY
    if op is _sre.SUBPATTERN:
        _, add_flags, del_flags, sub = av  # type: ignore[misc]
        return _UNKNOWN if add_flags or del_flags else _sequence(sub)
    if op is _sre.ATOMIC_GROUP:
        return _sequence(av)
    if op is _sre.BRANCH:
        return _branch([_sequence(alt) for alt in av[1]])  # type: ignore[index]
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        lo, hi, sub = av  # type: ignore[misc]
        return _repeat(lo, hi, _sequence(sub))
    return _UNKNOWN  # ., [^x], \w, group references, conditionals


def _branch(alts: list[_Info]) -> _Info:
    if all(a.exact is not None for a in alts):
        union = frozenset().union(*(a.exact for a in alts))  # type: ignore[misc]
        if len(union) <= _LIMIT:
            return _Info(union)
    # each alternative's most selective set; together they cover every match
    best = [_best(a) for a in alts]
    if any(b is None for b in best):
        return _UNKNOWN
    union = frozenset().union(*best)  # type: ignore[misc]
    return _Info(None, (union,) if len(union) <= _MOST_NEEDED else ())


def _repeat(lo: int, hi: int, sub: _Info) -> _Info:
    if sub.exact is not None and hi <= 3:
        strings = {""} if lo == 0 else set()
        power = {""}
        for k in range(1, hi + 1):
            power = {a + b for a in power for b in sub.exact}
            if len(power) > _LIMIT:
                break
            if k >= lo:
                strings |= power
        else:
            if len(strings) <= _LIMIT:
                return _Info(frozenset(strings))
    if lo == 0:
        return _UNKNOWN
    return _Info(None, _needs_of(sub))


def _needs_of(info: _Info) -> tuple[frozenset[str], ...]:
    if info.exact is not None:
        return (info.exact,) if "" not in info.exact else ()
    return info.needs


def _sequence(items: list[tuple[object, object]]) -> _Info:
    """Consecutive pieces whose strings are all known are joined (every joined string is
    a substring of the match); each other piece adds what it needs."""
    run: set[str] = {""}
    exact = True
    needs: list[frozenset[str]] = []
    for op, av in items:
        info = _item(op, av)
        if info.exact is None:
            exact = False
            needs += _needs_of(_Info(frozenset(run)))
            needs += info.needs
            run = {""}
        elif len(run) * len(info.exact) <= _LIMIT:
            run = {a + b for a in run for b in info.exact}
        else:
            exact = False
            needs += _needs_of(_Info(frozenset(run)))
            run = set(info.exact)
    if exact:
        return _Info(frozenset(run))
    needs += _needs_of(_Info(frozenset(run)))
    return _Info(None, tuple(needs))


def odds(strings: Collection[str]) -> float:
    """A rough chance that a sentence holds one of `strings` (shorter is likelier)."""
    return sum(26.0 ** -len(s) for s in sorted(strings))  # sorted: the same sum each run


def _best(info: _Info) -> frozenset[str] | None:
    sets = _needs_of(info)
    return min(sets, key=odds) if sets else None


def _reduced(strings: frozenset[str]) -> frozenset[str]:
    """Without the strings that hold another of the set (that one is found anyway)."""
    return frozenset(s for s in strings if not any(t != s and t in s for t in strings))


def _lower(s: str) -> str | None:
    """`s` with each character lower-cased as `re` does (one character for one), or None."""
    out = [c.lower() for c in s]
    return "".join(out) if all(len(c) == 1 for c in out) else None


def required_literals(pattern: re.Pattern[str], most: int = 2) -> tuple[tuple[str, ...], ...]:
    """Up to `most` sets of strings, most selective first, each holding a substring of
    every match of `pattern` (lower-cased under re.IGNORECASE); () when none is known."""
    if _parser is None or pattern.flags & (re.ASCII | re.LOCALE) or not pattern.pattern:
        return ()
    try:
        info = _sequence(list(_parser.parse(pattern.pattern, pattern.flags)))
    except Exception:  # noqa: BLE001 - an unexpected parse tree: no screen, never an error
        return ()
    sets: list[frozenset[str]] = []
    for strings in _needs_of(info):
        if pattern.flags & re.IGNORECASE:
            lowered = [_lower(s) for s in strings]
            if any(s is None for s in lowered):
                continue
            strings = frozenset(lowered)  # type: ignore[arg-type]
        if "" not in strings and odds(strings) < 0.5:
            sets.append(_reduced(strings))
    sets.sort(key=odds)
    return tuple(tuple(sorted(s, key=lambda t: (-len(t), t))) for s in sets[:most])


class Screen:
    """The literal screens of a set of patterns, and when a text may be screened."""

    def __init__(self, patterns: list[re.Pattern[str]]) -> None:
        self.needs = {p: required_literals(p) for p in patterns}
        chars = {c for sets in self.needs.values() for s in sets for t in s for c in t}
        # the characters other than a literal's own that `re` lets match it, case aside
        twins = {chr(t) for c in chars for t in _casefix._EXTRA_CASES.get(ord(c), ())} \
            if _casefix is not None else set()
        self._twins = re.compile("[" + re.escape("".join(sorted(twins))) + "]") if twins else None

    @staticmethod
    def test(strings: tuple[str, ...]) -> Callable[[str], bool]:
        """A test of whether a text holds one of `strings`."""
        if len(strings) <= _FEW:
            return lambda text: any(s in text for s in strings)
        return partial(_holds_any, ahocorasick_rs.AhoCorasick(list(strings)))

    def plain(self, text: str) -> bool:
        """Whether a literal occurs case-insensitively in `text` only as itself: no character
        of `text` changes when lower-cased, and none is a twin of a literal's."""
        return text.lower() == text and (
            text.isascii() or self._twins is None or not self._twins.search(text)
        )


def _holds_any(automaton: ahocorasick_rs.AhoCorasick, text: str) -> bool:
    try:
        return bool(automaton.find_matches_as_indexes(text))
    except UnicodeEncodeError:  # a lone surrogate, which it cannot read: no proof
        return True
