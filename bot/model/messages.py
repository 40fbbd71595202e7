"""The chat message value every provider client accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ChatRole = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    role: ChatRole
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"ChatMessage role must be one of {ROLES}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError("ChatMessage content must be a str")


def split_system(
    messages: Sequence[ChatMessage], default_system: str = ""
) -> tuple[str, list[ChatMessage]]:
    """Separate system text from the conversation.

    The caller's system messages win; `default_system` (LLM_SYSTEM_PROMPT) is used only when
    the caller supplied none, so a prompt the ask flow already adds is never sent twice.
    """
    system = [m.content for m in messages if m.role == "system" and m.content.strip()]
    turns = [m for m in messages if m.role != "system"]
    if not system and default_system.strip():
        system = [default_system]
    if not any(m.role == "user" for m in turns):
        raise ValueError("a chat request needs at least one user message")
    return "\n\n".join(system), turns
