"""The ChatClient protocol: what the ask flow (and anything else) needs from a model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from bot.model.messages import ChatMessage


@runtime_checkable
class ChatClient(Protocol):
    model: str

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """Text deltas in order. Raises ModelError; never after retrying text it yielded."""
        ...

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        """The whole answer. Raises ModelError."""
        ...
