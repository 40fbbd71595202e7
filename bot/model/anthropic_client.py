"""Anthropic Messages API (`/v1/messages`, `anthropic-version: 2023-06-01`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.model.errors import bad_response_error, error_for_provider_type
from bot.model.http_client import HttpChatClient, StreamParser
from bot.model.messages import ChatMessage, split_system
from bot.model.sse import SSEEvent

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicChatClient(HttpChatClient):
    provider = "anthropic"

    def _endpoint(self, base_url: str) -> str:
        if base_url.endswith("/messages"):
            return base_url
        if base_url.endswith("/v1"):  # accept an OpenAI-style base URL too
            return f"{base_url}/messages"
        return f"{base_url}/v1/messages"

    def _headers(self, stream: bool) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "x-api-key": self._settings.llm_api_key,
            "anthropic-version": ANTHROPIC_VERSION,
        }

    def _payload(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, Any]:
        system, turns = split_system(messages, self._settings.llm_system_prompt)
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._settings.llm_max_tokens,
            "messages": _wire_turns(turns),
            "stream": stream,
        }
        if system:
            payload["system"] = system
        return payload

    def _parse_complete(self, body: Any) -> str:
        if body.get("type") == "error":
            raise _provider_error(body.get("error") or {})
        content = body["content"]
        if not isinstance(content, list):
            raise bad_response_error("content is not a list of blocks")
        texts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if not all(isinstance(t, str) for t in texts):
            raise bad_response_error("a text block holds no text")
        if not texts and body.get("stop_reason") is None:
            raise bad_response_error("message without text or stop_reason")
        return "".join(texts)

    def _stream_parser(self) -> StreamParser:
        return _AnthropicStream()

    def _error_detail(self, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return f"{error.get('type', 'error')}: {str(error.get('message', ''))[:200]}"
        return "(no error object)"


class _AnthropicStream:
    """message_start … content_block_delta (text_delta) … message_stop, or an error event."""

    def __init__(self) -> None:
        self.done = False
        self.finished = False
        self.recognised = False

    def feed(self, event: SSEEvent) -> list[str]:
        data = json.loads(event.data)
        if not isinstance(data, dict):
            raise bad_response_error("stream event is not a JSON object")
        kind = data.get("type") or event.event
        if kind == "error":
            raise _provider_error(data.get("error") or {})
        if kind == "message_stop":
            self.done = True
            return []
        if kind == "content_block_delta":
            self.recognised = True
            delta = data["delta"]
            if delta.get("type") != "text_delta":
                return []  # thinking / tool input deltas are not answer text
            text = delta["text"]
            if not isinstance(text, str):
                raise bad_response_error("text_delta without text")
            return [text]
        if kind == "message_delta" and (data.get("delta") or {}).get("stop_reason"):
            self.finished = True
        if kind in ("message_start", "content_block_start", "content_block_stop", "message_delta"):
            self.recognised = True
        return []  # ping and event types added later by the API are ignored


def _wire_turns(turns: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Anthropic rejects empty text and merges same-role neighbours; do it explicitly."""
    wire: list[dict[str, str]] = []
    for message in turns:
        if not message.content.strip():
            continue
        if wire and wire[-1]["role"] == message.role:
            wire[-1]["content"] += "\n\n" + message.content
        else:
            wire.append({"role": message.role, "content": message.content})
    if wire and wire[-1]["role"] == "assistant":
        # A final assistant turn is a prefill the model would continue; it may not end in
        # whitespace.
        wire[-1]["content"] = wire[-1]["content"].rstrip()
    return wire


def _provider_error(error: dict[str, Any]) -> Exception:
    kind = str(error.get("type") or "error")
    return error_for_provider_type(kind, f"{kind}: {str(error.get('message', ''))[:200]}")
