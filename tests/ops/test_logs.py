"""Secrets never reach the logs, whatever logger prints them and however."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging, request_id_var
from bot.settings import Settings

BOT_TOKEN = "xoxb-1111-2222-abcdefghijklmnop"
API_KEY = "sk-live-0123456789abcdefABCDEF"


def _settings(**kw) -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN, llm_api_key=API_KEY, slack_signing_secret="s3cr3t-signing", **kw
    )


def test_configured_secrets_and_token_shapes_are_scrubbed():
    out = io.StringIO()
    handler = configure_logging(_settings(), stream=out)
    try:
        log = logging.getLogger("slack_bolt.test")
        log.warning("token %s key %s", BOT_TOKEN, API_KEY)
        log.error("header Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")
        log.error("another app token xapp-1-A111-222-ffffffffffff and s3cr3t-signing")
        try:
            raise RuntimeError(f"failed with key={API_KEY}")
        except RuntimeError:
            log.exception("boom")
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    for secret in (BOT_TOKEN, API_KEY, "abcdefghijklmnopqrstuvwxyz012345", "xapp-1-A111",
                   "s3cr3t-signing"):
        assert secret not in text
    assert text.count("[redacted]") >= 6
    assert "RuntimeError" in text  # the traceback itself is kept


def test_json_lines_carry_the_request_id():
    out = io.StringIO()
    handler = configure_logging(_settings(log_json=True), stream=out)
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("bot.ask").warning("answered in %d ms", 12)
    finally:
        request_id_var.reset(token)
        logging.getLogger().removeHandler(handler)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["msg"] == "answered in 12 ms"
    assert line["request_id"] == "req-42" and line["level"] == "warning"
