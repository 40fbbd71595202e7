"""Chat model clients over httpx: OpenAI-compatible and Anthropic, streaming, bounded retries.

from bot.model import ChatMessage, ModelError, ChatClient, build_chat_client
"""

from bot.model.anthropic_client import AnthropicChatClient
from bot.model.client import ChatClient
from bot.model.errors import ModelError
from bot.model.factory import build_chat_client
from bot.model.messages import ChatMessage
from bot.model.openai_client import OpenAIChatClient
from bot.model.retry import CallLimits

__all__ = [
    "AnthropicChatClient",
    "CallLimits",
    "ChatClient",
    "ChatMessage",
    "ModelError",
    "OpenAIChatClient",
    "build_chat_client",
]
