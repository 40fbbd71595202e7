"""OpenAI-compatible `/chat/completions` (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM, …)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.model.errors import bad_response_error, error_for_provider_type
from bot.model.http_client import HttpChatClient, StreamParser
from bot.model.messages import ChatMessage, split_system
from bot.model.sse import SSEEvent


class OpenAIChatClient(HttpChatClient):
    provider = "openai"

    def _endpoint(self, base_url: str) -> str:
        if base_url.endswith("/chat/completions"):
            return base_url
        return f"{base_url}/chat/completions"

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if self._settings.llm_api_key:
            headers["Authorization"] = f"Bearer {self._settings.llm_api_key}"
        return headers

    def _payload(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, Any]:
        system, turns = split_system(messages, self._settings.llm_system_prompt)
        wire = [{"role": "system", "content": system}] if system else []
        wire += [{"role": m.role, "content": m.content} for m in turns]
        # api.openai.com rejects max_tokens for its newer models; other servers expect it.
        host = urlsplit(self._url).hostname or ""
        limit_key = "max_completion_tokens" if host == "api.openai.com" else "max_tokens"
        return {
            "model": self.model,
            "messages": wire,
            limit_key: self._settings.llm_max_tokens,
            "stream": stream,
        }

    def _parse_complete(self, body: Any) -> str:
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise _provider_error(body["error"])
        choice = body["choices"][0]
        message = choice["message"]
        content = message.get("content")
        if isinstance(content, str):
            return content
        if content is None and isinstance(message.get("refusal"), str):
            return message["refusal"]
        raise bad_response_error("choices[0].message.content is not text")

    def _stream_parser(self) -> StreamParser:
        return _OpenAIStream()

    def _error_detail(self, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            kind = error.get("type") or error.get("code") or "error"
            return f"{kind}: {str(error.get('message', ''))[:200]}"
        if isinstance(error, str):
            return error[:200]
        return "(no error object)"


class _OpenAIStream:
    """`data: {chat.completion.chunk}` lines until `data: [DONE]`."""

    def __init__(self) -> None:
        self.done = False
        self.recognised = False
        self.finished = False

    def feed(self, event: SSEEvent) -> list[str]:
        data = event.data.strip()
        if data == "[DONE]":
            self.done = True
            return []
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise bad_response_error("stream chunk is not a JSON object")
        if chunk.get("error"):
            error = chunk["error"]
            raise _provider_error(error if isinstance(error, dict) else {"message": error})
        choices = chunk["choices"]
        if not isinstance(choices, list):
            raise bad_response_error("stream chunk without a choices list")
        self.recognised = True
        texts: list[str] = []
        for choice in choices:  # [] in usage-only chunks
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise bad_response_error("delta.content is not text")
            if content:
                texts.append(content)
            if choice.get("finish_reason"):
                self.finished = True
        return texts


def _provider_error(error: dict[str, Any]) -> Exception:
    kind = str(error.get("type") or error.get("code") or "error")
    return error_for_provider_type(kind, f"{kind}: {str(error.get('message', ''))[:200]}")
