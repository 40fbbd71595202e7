"""Build the long-lived services once at start and hand them down.

Handlers and the console never construct these themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.ask import AskFlow
from bot.model import ChatClient, build_chat_client
from bot.policy.engine import PolicyEngine
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store import Store


@dataclass
class Services:
    settings: Settings
    engine: PolicyEngine
    chat: ChatClient | None
    store: Store | None
    ask: AskFlow

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def build_services(settings: Settings, *, with_store: bool = True) -> Services:
    """Load the policy engine, the model client and the store; wire the ask flow."""
    engine = PolicyEngine.from_settings(settings)
    chat = build_chat_client(settings)
    store = None
    if with_store:
        from bot.store import Store

        store = Store.open(settings)
    ask = AskFlow(
        settings,
        engine,
        chat,
        audit=store,
        reviews=None,
        channel_profiles=store.channel_profile if store is not None else None,
    )
    return Services(settings=settings, engine=engine, chat=chat, store=store, ask=ask)
