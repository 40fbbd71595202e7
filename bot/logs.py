"""Logging set-up: plain or JSON lines, with every configured secret scrubbed.

The scrubbing is a handler filter, so it also covers third-party loggers (slack_bolt,
httpx, waitress) that might print a URL or a header.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterable

from bot.settings import Settings

# Slack tokens, Bearer headers and common API key shapes, even ones we were not told about.
_SECRET_SHAPES = re.compile(
    r"(xox[abprse]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}|sk-(?:ant-)?[A-Za-z0-9_-]{12,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{12,})"
)
REDACTED = "[redacted]"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class SecretScrubber(logging.Filter):
    """Replaces known secret values and token-shaped strings in every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = self.scrub(message)
        record.args = None
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            payload["request_id"] = request_id
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(settings: Settings, stream=None) -> logging.Handler:
    """Install one root handler; returns it (tests attach to it to scan what was logged)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(SecretScrubber(settings.secrets()))
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_redline", False):
            root.removeHandler(old)
    handler._redline = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # httpx logs every request line at INFO; keep it at WARNING unless debugging.
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
