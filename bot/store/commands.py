"""`redline audit verify|export|purge` and `redline db upgrade`."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta

from bot.settings import Settings
from bot.store.errors import StoreError, StoreUnavailable
from bot.store.models import utcnow
from bot.store.store import Store, migrate

EXIT_TAMPERED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.I)


def parse_since(raw: str | None, now: datetime | None = None) -> datetime | None:
    """'7d', '12h', '30m', '2w' (ago), or an ISO date/time (UTC if no offset)."""
    if raw is None or not raw.strip():
        return None
    m = _RELATIVE.match(raw)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2).lower()]
        return (now or utcnow()) - timedelta(**{unit: int(m.group(1))})
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since: expected e.g. 7d, 12h or 2026-01-31[T12:00], got {raw!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(message: str, code: int) -> int:
    print(f"redline: {message}", file=sys.stderr)
    return code


def run_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with Store.open(settings) as store:
            result = store.verify()
    except StoreError as e:
        return _fail(str(e), EXIT_UNAVAILABLE)
    if result.ok:
        first = f" (from {result.first_seq}, earlier ones purged)" if (
            result.first_seq and result.first_seq > 1) else ""
        print(f"ok: {result.checked} records verified{first} in {result.elapsed_s:.1f} s; "
              f"head {result.head_seq} {result.head_hash}")
        return 0
    print(f"TAMPERED: record {result.bad_seq} {result.problem}: {result.message}",
          file=sys.stderr)
    return EXIT_TAMPERED


def run_audit_export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = parse_since(getattr(args, "since", None))
    except ValueError as e:
        return _fail(str(e), EXIT_USAGE)
    try:
        with Store.open(settings) as store:
            store.export(sys.stdout, getattr(args, "format", "jsonl") or "jsonl", since,
                         getattr(args, "category", None))
    except StoreUnavailable as e:
        return _fail(str(e), EXIT_UNAVAILABLE)
    except StoreError as e:
        return _fail(str(e), EXIT_UNAVAILABLE)
    sys.stdout.flush()
    return 0


def run_audit_purge(args: argparse.Namespace, settings: Settings) -> int:
    if settings.retention_days <= 0:
        print("REDLINE_RETENTION_DAYS is 0 (keep forever): nothing purged")
        return 0
    try:
        with Store.open(settings) as store:
            deleted = store.purge()
    except StoreError as e:
        return _fail(str(e), EXIT_UNAVAILABLE)
    print(f"purged {deleted} records older than {settings.retention_days} days"
          + ("; checkpoint written" if deleted else ""))
    return 0


def run_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = migrate(settings)
    except StoreError as e:
        return _fail(str(e), EXIT_UNAVAILABLE)
    if result.applied:
        print(f"schema upgraded from version {result.before} to {result.after}:")
        for step in result.applied:
            print(f"  {step}")
    else:
        print(f"schema is up to date (version {result.after})")
    return 0
