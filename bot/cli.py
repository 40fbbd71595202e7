"""The `redline` command line: one parser, each subcommand implemented in its own module.

Subcommand modules are imported only when used, so `redline check` does not pay for
Slack or the database, and `redline serve` fails fast on a bad setting.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot.settings import PROFILES, Settings, SettingsError

# subcommand path -> "module:function"; each function is (args, settings) -> exit code
_COMMANDS: dict[str, str] = {
    "serve": "bot.server:run_serve",
    "console": "bot.console:run_console",
    "check": "bot.policy.commands:run_check",
    "eval": "bot.policy.commands:run_eval",
    "policy test": "bot.policy.commands:run_policy_test",
    "audit verify": "bot.store.commands:run_audit_verify",
    "audit export": "bot.store.commands:run_audit_export",
    "audit purge": "bot.store.commands:run_audit_purge",
    "db upgrade": "bot.store.commands:run_db_upgrade",
    "manifest": "bot.slack.manifest:run_manifest",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redline",
        description="Redline: a Slack AI assistant behind a usage policy enforced in code.",
    )
    parser.add_argument("--env-file", default=".env", help="dotenv file to read (default .env)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("serve", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN, else HTTP)")

    console = sub.add_parser("console", help="the ask flow in this terminal, on embedded defaults")
    console.add_argument("--profile", choices=PROFILES, help="override REDLINE_PROFILE")
    console.add_argument("--user", default="console", help="user id recorded in the audit log")

    check = sub.add_parser("check", help="print the policy decision for a text")
    check.add_argument("text", nargs="?", help="the text to check")
    check.add_argument("--profile", choices=PROFILES)
    check.add_argument("--kind", choices=("request", "response"), default="request")
    check.add_argument("--channel", default="", help="channel id, for per-channel overrides")
    check.add_argument("--jsonl", action="store_true", help="read JSON lines on stdin")
    check.add_argument("--json", action="store_true", help="print the full decision as JSON")

    evaluate = sub.add_parser("eval", help="precision/recall/over-refusal on a labeled file")
    evaluate.add_argument("file", help="JSONL with text, label (category id or 'allowed')")
    evaluate.add_argument("--profile", choices=PROFILES)
    evaluate.add_argument("--by", default="", help="also break down by this field, e.g. style")
    evaluate.add_argument("--errors", type=int, default=0, help="print up to N misclassified")

    policy = sub.add_parser("policy", help="policy file tools")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="ACTION")
    ptest = policy_sub.add_parser("test", help="run the policy's example cases")
    ptest.add_argument("--policy", help="policy file (default REDLINE_POLICY)")

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.add_parser("verify", help="check the hash chain; non-zero exit on tampering")
    export = audit_sub.add_parser("export", help="write audit records to stdout")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--since", help="ISO date/time or e.g. 7d")
    export.add_argument("--category")
    audit_sub.add_parser("purge", help="delete records past REDLINE_RETENTION_DAYS")

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply schema migrations")

    manifest = sub.add_parser("manifest", help="print the Slack app manifest")
    manifest.add_argument("--url", help="public base URL for HTTP mode (omit for Socket Mode)")
    return parser


def _command_key(args: argparse.Namespace) -> str | None:
    if args.command in ("policy", "audit", "db"):
        action = getattr(args, f"{args.command}_command", None)
        return f"{args.command} {action}" if action else None
    return args.command or "serve"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    key = _command_key(args)
    if key is None:
        parser.parse_args([args.command, "--help"])
        return 2
    try:
        settings = Settings.from_env(dotenv_path=args.env_file)
        module_name, func_name = _COMMANDS[key].split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args, settings) or 0)
    except SettingsError as exc:
        print(f"redline: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # The database being unreachable at start is an operator's problem, not a bug:
        # one line, non-zero exit, no traceback.
        # (matched by name so the CLI does not import SQLAlchemy for commands without a store)
        if "StoreError" not in {cls.__name__ for cls in type(exc).__mro__}:
            raise
        print(f"redline: database unavailable: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
