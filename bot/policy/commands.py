"""`redline check`, `redline eval`, `redline policy test`: the policy engine's command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from bot.policy.engine import PolicyEngine
from bot.policy.evaluate import evaluate
from bot.policy.policy import PolicyError, cases_path, load_cases, load_policy
from bot.settings import Settings


def _engine(settings: Settings) -> PolicyEngine | None:
    try:
        return PolicyEngine.from_settings(settings)
    except PolicyError as exc:
        print(f"redline: invalid policy: {exc}", file=sys.stderr)
        return None


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    if engine is None:
        return 2
    if args.jsonl:
        return check_jsonl(engine, sys.stdin, sys.stdout, args.profile)
    if args.text is None:
        print("redline check: give a text, or --jsonl to read JSON lines on stdin",
              file=sys.stderr)
        return 2
    verdict = engine.decide(
        args.text, kind=args.kind, profile=args.profile, channel=args.channel
    )
    if args.json:
        print(json.dumps(asdict(verdict), ensure_ascii=False))
    else:
        line = f"{verdict.decision}  category={verdict.category or '-'}  score={verdict.score:.3f}"
        line += f"  stage={verdict.stage}  profile={verdict.profile}"
        line += f"  policy={verdict.policy_version}  {verdict.latency_ms:.2f} ms"
        print(line)
        if verdict.reason:
            print(f"reason: {verdict.reason}")
        for ev in verdict.evidence:
            print(f"evidence: {ev}")
    return 0


def check_jsonl(
    engine: PolicyEngine, stdin: TextIO, stdout: TextIO, profile: str | None = None
) -> int:
    """One output line per input line, in order, flushed as it goes (constant memory)."""
    bad = 0
    for n, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        row: object = None
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError("expected an object with a string 'text'")
            kind = row.get("kind", "request")
            if kind not in ("request", "response"):
                raise ValueError("kind must be request or response")
            context = row.get("context") or ()
            if not isinstance(context, list | tuple):
                raise ValueError("context must be a list of strings")
        except (json.JSONDecodeError, ValueError) as exc:
            bad += 1
            rid = row.get("id") if isinstance(row, dict) else None
            out = {"id": rid, "line": n, "error": str(exc)}
        else:
            v = engine.decide(row["text"], kind=kind, profile=profile,
                              channel=str(row.get("channel", "")),
                              context=[str(c) for c in context])
            out = {"id": row.get("id"), "decision": v.decision, "category": v.category,
                   "score": v.score, "stage": v.stage}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return 1 if bad else 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    if engine is None:
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"redline eval: no such file: {path}", file=sys.stderr)
        return 2
    profile = args.profile or settings.profile
    try:
        report = evaluate(engine, path, profile, by_field=args.by, keep_errors=args.errors)
    except ValueError as exc:
        print(f"redline eval: {exc}", file=sys.stderr)
        return 2
    print(f"file: {path}   policy: {engine.policy.version}")
    print(report.render())
    if report.errors:
        print(f"\nerrors (first {len(report.errors)}):")
        for item, v in report.errors:
            style = item.fields.get("style", "")
            print(f"- [{item.label} {style}] -> {v.decision}/{v.category or '-'} "
                  f"({v.stage} {v.score:.2f}): {item.text[:160]!r}")
    return 0


def run_policy_test(args: argparse.Namespace, settings: Settings) -> int:
    policy_path = Path(args.policy) if getattr(args, "policy", None) else settings.policy_path
    try:
        policy = load_policy(policy_path)
        cases = load_cases(cases_path(policy_path), policy)
    except PolicyError as exc:
        print(f"redline: invalid policy: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError:
        print(f"redline: no example cases at {cases_path(policy_path)}", file=sys.stderr)
        return 2
    engine = PolicyEngine.from_settings(settings, policy_path=policy_path)
    failures = run_cases(engine, cases)
    for case, got in failures:
        print(f"FAIL {cases_path(policy_path).name}:{case.line}: expected {case.expect}"
              f"{'/' + case.category if case.category else ''} under {case.profile}, got "
              f"{got.decision}/{got.category or '-'} ({got.stage}): {case.text[:100]!r}")
    print(f"{len(cases) - len(failures)}/{len(cases)} policy cases pass "
          f"(policy {policy.version})")
    return 1 if failures else 0


def run_cases(engine: PolicyEngine, cases: list) -> list:  # type: ignore[type-arg]
    failures = []
    for case in cases:
        got = engine.decide(case.text, kind=case.kind, profile=case.profile,
                            context=case.context)
        if got.decision != case.expect or (
            case.category is not None and got.category != case.category
        ):
            failures.append((case, got))
    return failures
