"""The policy file: load it (TOML), validate it, and say where it is wrong.

The policy is data: categories (id, title, description, not_covered, reason, hard or
restricted, a decision per profile, rule patterns), profiles, per-channel profile
overrides. Every error names the file and the line of the offending key, found by
scanning the text, because tomllib does not report positions for valid TOML.
The version is a content hash, so every Verdict says which policy decided it.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.policy.concepts import LEXICON

# The taxonomy's ids are a contract (shared/policy-taxonomy.md): a policy file may not
# invent or drop one.
HARD_LIMIT_IDS = ("autonomous_weapons", "mass_domestic_surveillance", "cbrn_weapons")
RESTRICTED_IDS = (
    "weapons_development",
    "military_operations",
    "targeted_surveillance",
    "offensive_cyber",
)
CATEGORY_IDS = HARD_LIMIT_IDS + RESTRICTED_IDS
DECISIONS = ("allow", "review", "refuse")
_CATEGORY_FIELDS = ("id", "title", "description", "not_covered", "reason", "hard", "decisions")
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file and line."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Rule:
    """A precise pattern: fires when every `all` regex matches and no `unless` regex does."""

    id: str
    category: str
    all: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    kinds: tuple[str, ...] = ("request", "response")
    when: tuple[str, ...] = ()  # lexicon concepts a sentence must contain (a cheap prefilter)

    def match(
        self,
        text: str,
        kind: str = "request",
        order: tuple[re.Pattern[str], ...] | None = None,
    ) -> str | None:
        """The matched span (of the first `all` pattern) or None; the `all` patterns are
        searched in `order` when given (the same patterns: any order gives one answer)."""
        if kind not in self.kinds:
            return None
        first = self.all[0] if self.all else None
        span: str | None = None
        for pattern in order or self.all:
            m = pattern.search(text)
            if m is None:
                return None
            if pattern is first and span is None:
                span = m.group(0)
        if any(p.search(text) for p in self.unless):
            return None
        return span


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    description: str
    not_covered: str
    reason: str
    hard: bool
    decisions: Mapping[str, str]
    rules: tuple[Rule, ...] = ()

    def decision(self, profile: str) -> str:
        return "refuse" if self.hard else self.decisions[profile]


@dataclass(frozen=True)
class ExampleCase:
    """A policy test: this text, under this profile, must get this decision."""

    text: str
    expect: str
    category: str | None = None
    profile: str = "standard"
    kind: str = "request"
    context: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Policy:
    path: str
    version: str
    name: str
    default_profile: str
    profiles: Mapping[str, str]  # name -> description
    categories: tuple[Category, ...]  # hard limits first
    channel_profiles: Mapping[str, str] = field(default_factory=dict)
    intro: str = ""

    def category(self, category_id: str) -> Category:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for cat in self.categories for rule in cat.rules)

    def describe(self) -> str:
        """The written policy, as given to the LLM judge."""
        parts = [self.intro.strip()] if self.intro.strip() else []
        for cat in self.categories:
            kind = "HARD LIMIT" if cat.hard else "restricted"
            parts.append(
                f"## {cat.id} ({kind}): {cat.title}\n"
                f"Covers: {' '.join(cat.description.split())}\n"
                f"Does NOT cover: {' '.join(cat.not_covered.split())}"
            )
        parts.append(
            "Everything else is allowed, including discussion, news, history, ethics, law, "
            "policy, education, journalism, defensive security, fiction without operational "
            "help, and everyday senses of words like kill, shoot, target, drone, track."
        )
        return "\n\n".join(parts)


class _Locator:
    """Find the line of a key or value in the file text (tomllib gives no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, needle: str, start: int = 1, key: bool = False) -> int:
        pattern = re.compile(
            rf"^\s*{re.escape(needle)}\s*=" if key else re.escape(needle)
        )
        for i in range(max(start, 1) - 1, len(self.lines)):
            if pattern.search(self.lines[i]):
                return i + 1
        return start if start > 0 else 1

    def block(self, header: str, nth: int) -> int:
        """Line of the nth (0-based) `[[header]]` array-of-tables entry."""
        count = -1
        for i, line in enumerate(self.lines):
            if line.strip() == f"[[{header}]]":
                count += 1
                if count == nth:
                    return i + 1
        return 1


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file; raises PolicyError naming file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(path, 0, f"cannot read policy file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(path, 1, "policy file is not UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise PolicyError(path, int(m.group(1)) if m else 1, f"invalid TOML: {exc}") from None
    version = hashlib.sha256(raw).hexdigest()[:12]
    return _build(path, text, data, version)


def _req(
    path: Path, loc: _Locator, table: Mapping[str, Any], key: str, line: int, what: str
) -> Any:
    if key not in table:
        raise PolicyError(path, line, f"{what}: missing field '{key}'")
    return table[key]


_FRAGMENT_REF = re.compile(r"\{\{(\w+)\}\}")


def _compile(
    path: Path, loc: _Locator, pattern: Any, line: int, fragments: Mapping[str, str]
) -> re.Pattern[str]:
    at = loc.find(str(pattern)[:40], line) if isinstance(pattern, str) else line
    if not isinstance(pattern, str) or not pattern:
        raise PolicyError(path, at, f"rule pattern must be a non-empty string, got {pattern!r}")

    def expand(m: re.Match[str]) -> str:
        if m.group(1) not in fragments:
            raise PolicyError(path, at, f"unknown fragment {{{{{m.group(1)}}}}} in {pattern!r}")
        return f"(?:{fragments[m.group(1)]})"

    expanded = _FRAGMENT_REF.sub(expand, pattern)
    try:
        return re.compile(expanded, re.IGNORECASE)
    except re.error as exc:
        raise PolicyError(path, at, f"bad regex {pattern!r}: {exc}") from None


def _build(path: Path, text: str, data: Mapping[str, Any], version: str) -> Policy:
    loc = _Locator(text)
    meta = data.get("policy", {})
    if not isinstance(meta, dict):
        raise PolicyError(path, loc.find("policy", key=True), "'policy' must be a table")
    name = str(meta.get("name", path.stem))
    profiles_raw = data.get("profiles")
    if not isinstance(profiles_raw, dict) or not profiles_raw:
        raise PolicyError(path, loc.find("[profiles"), "missing [profiles.<name>] tables")
    profiles: dict[str, str] = {}
    for pname, ptable in profiles_raw.items():
        pline = loc.find(f"[profiles.{pname}]")
        if not isinstance(ptable, dict):
            raise PolicyError(path, pline, f"profile '{pname}' must be a table")
        profiles[pname] = str(_req(path, loc, ptable, "description", pline, f"profile {pname}"))
    for needed in ("standard", "all_lawful_purposes"):
        if needed not in profiles:
            raise PolicyError(path, loc.find("[profiles"), f"missing profile '{needed}'")
    default_profile = str(meta.get("default_profile", "standard"))
    if default_profile not in profiles:
        raise PolicyError(
            path, loc.find("default_profile", key=True),
            f"default_profile '{default_profile}' is not a defined profile",
        )

    fragments = data.get("fragments", {})
    if not isinstance(fragments, dict) or not all(isinstance(v, str) for v in fragments.values()):
        raise PolicyError(path, loc.find("[fragments]"), "'fragments' must map names to regexes")
    for fname, frag in fragments.items():
        _compile(path, loc, frag, loc.find(fname, key=True), {})

    cats_raw = data.get("categories")
    if not isinstance(cats_raw, list) or not cats_raw:
        raise PolicyError(path, 1, "missing [[categories]] entries")
    categories: list[Category] = []
    seen: set[str] = set()
    for n, cat in enumerate(cats_raw):
        start = loc.block("categories", n)
        for key in _CATEGORY_FIELDS:
            _req(path, loc, cat, key, start, f"category #{n + 1}")
        cid = cat["id"]
        id_line = loc.find(f'"{cid}"', start)
        if cid not in CATEGORY_IDS:
            raise PolicyError(
                path, id_line, f"unknown category id '{cid}' (the taxonomy ids are fixed)"
            )
        if cid in seen:
            raise PolicyError(path, id_line, f"duplicate category id '{cid}'")
        seen.add(cid)
        hard = cat["hard"]
        if not isinstance(hard, bool):
            raise PolicyError(path, loc.find("hard", start, key=True), "'hard' must be true/false")
        if hard != (cid in HARD_LIMIT_IDS):
            raise PolicyError(
                path, loc.find("hard", start, key=True),
                f"category '{cid}' must have hard = {str(cid in HARD_LIMIT_IDS).lower()}",
            )
        for key in ("title", "description", "not_covered", "reason"):
            if not isinstance(cat[key], str) or not cat[key].strip():
                raise PolicyError(
                    path, loc.find(key, start, key=True), f"'{key}' of '{cid}' must be text"
                )
        decisions = cat["decisions"]
        dline = loc.find("decisions", start)
        if not isinstance(decisions, dict):
            raise PolicyError(path, dline, f"'decisions' of '{cid}' must be a table")
        for pname, decision in decisions.items():
            pl = loc.find(pname, dline, key=True)
            if pname not in profiles:
                raise PolicyError(path, pl, f"'{cid}': unknown profile '{pname}'")
            if decision not in DECISIONS:
                raise PolicyError(
                    path, pl, f"'{cid}': decision must be one of {DECISIONS}, got {decision!r}"
                )
            if hard and decision != "refuse":
                raise PolicyError(
                    path, pl,
                    f"'{cid}' is a hard limit: profile '{pname}' cannot relax it to "
                    f"'{decision}' (hard limits are refused under every profile)",
                )
        for pname in profiles:
            if pname not in decisions:
                raise PolicyError(path, dline, f"'{cid}': no decision for profile '{pname}'")
        rules: list[Rule] = []
        for r, rule in enumerate(cat.get("rules", [])):
            rline = loc.find("[[categories.rules]]", start)
            for _ in range(r):
                rline = loc.find("[[categories.rules]]", rline + 1)
            rid = str(_req(path, loc, rule, "id", rline, f"a rule of '{cid}'"))
            pats = _req(path, loc, rule, "all", rline, f"rule '{rid}'")
            if not isinstance(pats, list) or not pats:
                raise PolicyError(path, rline, f"rule '{rid}': 'all' must be a list of regexes")
            unless = rule.get("unless", [])
            kinds = tuple(rule.get("kinds", ["request", "response"]))
            when = rule.get("when", [])
            if not isinstance(when, list) or any(w not in LEXICON for w in when):
                raise PolicyError(
                    path, loc.find("when", rline, key=True),
                    f"rule '{rid}': 'when' must list lexicon concepts ({', '.join(LEXICON)})",
                )
            bad_kind = [k for k in kinds if k not in ("request", "response")]
            if bad_kind:
                raise PolicyError(path, loc.find("kinds", rline, key=True),
                                  f"rule '{rid}': unknown kind {bad_kind[0]!r}")
            rules.append(
                Rule(
                    id=rid,
                    category=cid,
                    all=tuple(_compile(path, loc, p, rline, fragments) for p in pats),
                    unless=tuple(_compile(path, loc, p, rline, fragments) for p in unless),
                    kinds=kinds,
                    when=tuple(when),
                )
            )
        categories.append(
            Category(
                id=cid, title=cat["title"].strip(), description=cat["description"].strip(),
                not_covered=cat["not_covered"].strip(), reason=cat["reason"].strip(),
                hard=hard, decisions=dict(decisions), rules=tuple(rules),
            )
        )
    missing = [c for c in CATEGORY_IDS if c not in seen]
    if missing:
        raise PolicyError(path, 1, f"missing categories: {', '.join(missing)}")
    categories.sort(key=lambda c: (not c.hard, CATEGORY_IDS.index(c.id)))

    channels_raw = data.get("channels", {})
    if not isinstance(channels_raw, dict):
        raise PolicyError(path, loc.find("[channels]"), "'channels' must be a table")
    channels: dict[str, str] = {}
    cline = loc.find("[channels]")
    for channel, pname in channels_raw.items():
        line = loc.find(channel, cline, key=True)
        if not _CHANNEL_RE.match(channel):
            raise PolicyError(path, line, f"'{channel}' is not a Slack channel id (C…/G…/D…)")
        if pname not in profiles:
            raise PolicyError(path, line, f"channel {channel}: unknown profile '{pname}'")
        channels[channel] = pname
    return Policy(
        path=str(path), version=version, name=name, default_profile=default_profile,
        profiles=profiles, categories=tuple(categories), channel_profiles=channels,
        intro=str(meta.get("intro", "")),
    )


def cases_path(policy_path: Path | str) -> Path:
    """The example-cases file that sits beside a policy file: <stem>.cases.toml."""
    p = Path(policy_path)
    return p.with_name(p.stem + ".cases.toml")


def load_cases(path: Path | str, policy: Policy) -> list[ExampleCase]:
    """Read example cases; each names text, expect, and optionally category/profile/kind."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise PolicyError(path, int(m.group(1)) if m else 1, f"invalid TOML: {exc}") from None
    loc = _Locator(text)
    cases: list[ExampleCase] = []
    ids = {c.id for c in policy.categories}
    for n, case in enumerate(data.get("cases", [])):
        line = loc.block("cases", n)
        text_ = _req(path, loc, case, "text", line, f"case #{n + 1}")
        expect = _req(path, loc, case, "expect", line, f"case #{n + 1}")
        if expect not in DECISIONS:
            raise PolicyError(path, line, f"case #{n + 1}: expect must be one of {DECISIONS}")
        category = case.get("category")
        if category is not None and category not in ids:
            raise PolicyError(path, line, f"case #{n + 1}: unknown category '{category}'")
        profile = case.get("profile", policy.default_profile)
        if profile not in policy.profiles:
            raise PolicyError(path, line, f"case #{n + 1}: unknown profile '{profile}'")
        cases.append(
            ExampleCase(
                text=str(text_), expect=expect, category=category, profile=profile,
                kind=case.get("kind", "request"), context=tuple(case.get("context", [])),
                line=line,
            )
        )
    return cases
