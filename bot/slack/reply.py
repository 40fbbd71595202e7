"""The Slack `ReplySink`: how the ask flow's replies appear in a Slack thread.

One sink serves one request. Streaming uses `chat.update` on a single message rather than
Slack's append-only streaming API because a later chunk may trip the output guard, and
then the text already shown must be *replaced* by the refusal, which only an update can do.

Updates are throttled: the first visible text is shown at once, later text at most once
per `min_interval_s` (Slack's chat.update is a Tier 3 method). Intermediate updates go
through a client that does not sleep on 429: a rate-limited intermediate frame is skipped
and the next one waits out `Retry-After`; the final answer, refusals and failures go
through the app's client, which retries 429/5xx, so they are always delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.slack import blocks
from bot.slack.blocks import Message
from bot.types import Request, Verdict

log = logging.getLogger(__name__)


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def frame_client(client: WebClient) -> WebClient:
    """A copy of `client` for best-effort stream frames: same token and URL, no 429 sleep."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=min(client.timeout, 10),
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


class SlackReplySink:
    """Implements `bot.ask.ReplySink` for one thread of one channel."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str,
        *,
        assistant: bool = False,
        titles: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        min_interval_s: float = 1.0,
        frames: WebClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        request: Request | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.assistant = assistant
        self._titles = dict(titles or {})
        self._secrets = tuple(secrets)
        self._interval = min_interval_s
        self._frames = frames or frame_client(client)
        self._clock = clock
        self._lock = threading.Lock()
        self.message_ts: str | None = None  # the message that streams / gets replaced
        self._text_shown = False  # has any answer text been shown (vs. the placeholder)
        self._last_frame = float("-inf")
        self._shown = ""
        self._backoff_until = float("-inf")
        self._closed = False
        self.posted: list[str] = []  # ts of every message this sink posted, in order
        # The request being answered: an appealable refusal carries it in its button.
        self.request = request

    # --- ReplySink -------------------------------------------------------------------

    def refused(self, verdict: Verdict, appealable: bool) -> None:
        message = blocks.refusal_message(verdict, appealable, self._titles)
        if appealable and self.request is not None:
            from bot.slack.review_cards import with_appeal_button

            message = with_appeal_button(message, verdict, self.request)
        self._final(message)

    def held(self, verdict: Verdict, review_id: str) -> None:
        self._final(blocks.held_message(verdict, review_id, self._titles))

    def thinking(self) -> None:
        with self._lock:
            if self._closed or self.message_ts:
                return
            if self.assistant:
                self._set_status("is thinking…")
                return
            self._show(blocks.placeholder_message())

    def stream_update(self, visible_text: str) -> None:
        # A model can echo a secret a user pasted (or one it was given): never show it.
        visible_text = redact(visible_text, self._secrets)
        with self._lock:
            if self._closed or not visible_text.strip() or visible_text == self._shown:
                return
            now = self._clock()
            if not self._text_shown:
                # First visible text: show it now, reliably (post or replace the placeholder).
                self._show(blocks.streaming_message(visible_text))
            elif now - self._last_frame < self._interval or now < self._backoff_until:
                return  # throttled; a later frame or `finished` shows it
            else:
                self._frame(blocks.streaming_message(visible_text), now, visible_text)
                return
            self._text_shown = True
            self._shown = visible_text
            self._last_frame = now

    def stream_retract(self, verdict: Verdict) -> None:
        self._final(blocks.refusal_message(verdict, False, self._titles))

    def finished(self, text: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            messages = blocks.answer_messages(redact(text, self._secrets))
            self._show(messages[0])
            for extra in messages[1:]:
                self._post(extra)

    def failed(self, message: str) -> None:
        self._final(blocks.failure_message(redact(message, self._secrets)))

    def ephemeral(self, text: str) -> None:
        """A notice only the requester sees (e.g. a rate limit); the thread stays clean."""
        user = self.request.user if self.request is not None else ""
        if not user:
            self.failed(text)
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.client.chat_postEphemeral(
            channel=self.channel, user=user, thread_ts=self.thread_ts or None,
            **blocks.failure_message(redact(text, self._secrets)).payload(),
        )

    # --- helpers ------------------------------------------------------------------------

    def _final(self, message: Message) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._show(message)

    def _show(self, message: Message) -> None:
        if self.message_ts:
            self.client.chat_update(channel=self.channel, ts=self.message_ts, **message.payload())
        else:
            self.message_ts = self._post(message)

    def _post(self, message: Message) -> str:
        resp = self.client.chat_postMessage(
            channel=self.channel,
            thread_ts=self.thread_ts or None,
            unfurl_links=False,
            unfurl_media=False,
            **message.payload(),
        )
        ts = str(resp.get("ts") or "")
        self.posted.append(ts)
        return ts

    def _frame(self, message: Message, now: float, visible_text: str) -> None:
        """Best-effort intermediate update; never blocks the stream on a rate limit."""
        assert self.message_ts is not None
        try:
            self._frames.chat_update(channel=self.channel, ts=self.message_ts, **message.payload())
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                retry_after = _retry_after(exc.response.headers)
                self._backoff_until = now + retry_after
                log.info("chat.update rate limited; skipping frames for %.1fs", retry_after)
            else:
                log.warning("chat.update frame failed: %s", exc.response.get("error"))
            return
        except Exception as exc:
            log.warning("chat.update frame failed: %s", type(exc).__name__)
            return
        self._shown = visible_text
        self._last_frame = now

    def _set_status(self, status: str) -> None:
        try:
            self.client.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=status
            )
        except Exception as exc:  # status is cosmetic; never fail the answer over it
            log.info("assistant.threads.setStatus failed: %s", type(exc).__name__)


def _retry_after(headers: Any) -> float:
    try:
        values = headers.get("Retry-After") or headers.get("retry-after") or ["1"]
        value = values[0] if isinstance(values, list) else values
        return max(0.5, float(value))
    except (TypeError, ValueError, AttributeError):
        return 1.0
