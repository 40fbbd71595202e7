"""The API key (and URL credentials) never reach logs, exception text or user messages."""

from __future__ import annotations

import logging
import traceback

import pytest

from bot.model import ChatMessage, ModelError
from tests.fakes.model_server import FakeModelServer, Reply
from tests.model.conftest import KEY, MakeClient

ASK = [ChatMessage("user", "hello")]

# Replies under which a client might be tempted to quote what it saw.
FAILURES = [
    pytest.param(
        Reply(
            status=401,
            body='{"error": {"message": "Incorrect API key provided: '
            + KEY
            + '", "type": "invalid_request_error"}}',
        ),
        id="401-echoing-the-key",
    ),
    pytest.param(Reply(status=500, body=f"<html>upstream said {KEY}</html>"), id="500-html"),
    pytest.param(Reply(body=f"garbage {KEY}"), id="garbage-200"),
    pytest.param(Reply(chunks=[], error_event="overloaded_error"), id="error-event"),
    pytest.param(Reply(delay_first_byte=30), id="timeout"),
    pytest.param(
        Reply(sse=f'data: {{"error": {{"message": "{KEY}", "type": "x"}}}}\n\n'),
        id="stream-error-quoting-key",
    ),
]


@pytest.mark.parametrize("reply", FAILURES)
def test_key_not_in_errors_or_logs(
    fake: FakeModelServer,
    make_client: MakeClient,
    provider: str,
    reply: Reply,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx / httpcore debug logs included
    fake.always(reply)
    client = make_client(provider)
    with pytest.raises(ModelError) as caught:
        list(client.stream(ASK))
    error = caught.value
    assert fake.requests[-1].api_key == KEY  # the key was really sent…
    texts = [
        str(error),
        repr(error),
        error.user_message,
        error.detail,
        "".join(traceback.format_exception(error)),
        caplog.text,
        repr(client),
    ]
    for text in texts:  # …and is nowhere to be read afterwards
        assert KEY not in text
    assert "upstream said" not in error.user_message


def test_url_credentials_not_in_errors_or_logs(
    caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    from bot.model import build_chat_client
    from tests.model.conftest import FAST

    caplog.set_level(logging.WARNING, logger="bot.model")
    with FakeModelServer() as fake:
        fake.always(Reply(status=503))
        base = fake.base_url.replace("http://", "http://admin:hunter2pass@")
        client = build_chat_client(fake.settings(provider, llm_base_url=base), limits=FAST)
        assert client is not None
        with pytest.raises(ModelError) as caught:
            client.complete(ASK)
    assert "hunter2pass" not in str(caught.value) + caught.value.user_message
    assert "hunter2pass" not in caplog.text
    assert "retry 1/3" in caplog.text  # the retries were logged, redacted
