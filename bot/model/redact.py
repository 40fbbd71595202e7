"""Scrub secrets and URL credentials out of text bound for logs or exception messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
REDACTED = "[redacted]"


class Redactor:
    """Replaces every known secret (and any user:password@ in URLs) with "[redacted]"."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _URL_USERINFO.sub(rf"\1{REDACTED}@", text)


def safe_url(url: str) -> str:
    """The URL without credentials, for logs."""
    return _URL_USERINFO.sub(rf"\1{REDACTED}@", url)
