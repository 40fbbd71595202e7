"""Build the long-lived services once at start and hand them down.

Handlers and the console never construct these themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.ask import AskFlow
from bot.metrics import MeteredAudit, Metrics, review_queue_depth
from bot.model import ChatClient, build_chat_client
from bot.policy.engine import PolicyEngine
from bot.ratelimit import RateLimitedAsk, RateLimits
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.review import ReviewService
    from bot.store import Store


@dataclass
class Services:
    settings: Settings
    engine: PolicyEngine
    chat: ChatClient | None
    store: Store | None
    ask: AskFlow | RateLimitedAsk  # RateLimitedAsk: REDLINE_RATE_PER_USER / _WORKSPACE first
    reviews: ReviewService | None = None
    metrics: Metrics = field(default_factory=Metrics)  # served at /metrics by run_serve

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def build_services(
    settings: Settings,
    *,
    with_store: bool = True,
    with_reviews: bool = True,
    review_clock: Callable[[], datetime] | None = None,
) -> Services:
    """Load the policy engine, the model client and the store; wire the ask flow.

    `with_reviews=False` (the console) keeps held requests out of the Slack review queue:
    there is nobody there to review them. `review_clock` lets tests move time for expiry.
    """
    metrics = Metrics()
    engine = PolicyEngine.from_settings(settings)
    chat = build_chat_client(settings)
    store = None
    reviews = None
    if with_store:
        from bot.store import Store

        store = Store.open(settings)
        if with_reviews:
            from bot.review import ReviewService

            clock = {"clock": review_clock} if review_clock is not None else {}
            reviews = ReviewService(settings, store, engine=engine, chat=chat, **clock)
    ask = AskFlow(
        settings,
        engine,
        chat,
        # every decision is counted for /metrics from the very record that is audited
        audit=MeteredAudit(store, metrics) if store is not None else None,
        reviews=reviews,
        channel_profiles=store.channel_profile if store is not None else None,
    )
    if reviews is not None:
        reviews.bind(ask=ask)
    if store is not None:
        metrics.watch_review_queue(review_queue_depth(store))
    limited = RateLimitedAsk(ask, RateLimits.from_settings(settings, store, metrics))
    return Services(
        settings=settings, engine=engine, chat=chat, store=store, ask=limited, reviews=reviews,
        metrics=metrics,
    )
