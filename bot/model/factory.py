"""Build the configured chat client from settings."""

from __future__ import annotations

from bot.model.anthropic_client import AnthropicChatClient
from bot.model.client import ChatClient
from bot.model.openai_client import OpenAIChatClient
from bot.model.retry import CallLimits
from bot.settings import Settings


def build_chat_client(settings: Settings, limits: CallLimits | None = None) -> ChatClient | None:
    """The client for LLM_PROVIDER, or None when it is "none" (no model configured)."""
    if settings.llm_provider == "none":
        return None
    if settings.llm_provider == "openai":
        return OpenAIChatClient(settings, limits=limits)
    if settings.llm_provider == "anthropic":
        return AnthropicChatClient(settings, limits=limits)
    raise ValueError(f"unknown LLM_PROVIDER {settings.llm_provider!r}")
