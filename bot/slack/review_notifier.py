"""Slack's side of the review workflow: `SlackReviewNotifier` (post and update review cards,
tell the requester in their thread) and `GroupMembers` (who is in REDLINE_REVIEWER_GROUP)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import review_cards
from bot.store import ReviewItem

log = logging.getLogger(__name__)


class SlackReviewNotifier:
    """Implements `bot.review.ReviewNotifier` with the Web API."""

    def __init__(
        self,
        client: WebClient,
        review_channel: str,
        titles: Mapping[str, str] | None = None,
        ttl_h: float = 24.0,
    ) -> None:
        self._client = client
        self._channel = review_channel
        self._titles = dict(titles or {})
        self._ttl_h = ttl_h

    def post_card(self, item: ReviewItem) -> tuple[str, str] | None:
        if not self._channel:
            log.warning("REDLINE_REVIEW_CHANNEL is not set: review %s has no card", item.id)
            return None
        card = review_cards.review_card(item, self._titles)
        resp = self._client.chat_postMessage(
            channel=self._channel, unfurl_links=False, unfurl_media=False, **card.payload()
        )
        return str(resp.get("channel") or self._channel), str(resp.get("ts") or "")

    def update_card(self, item: ReviewItem) -> None:
        if not (item.card_channel and item.card_ts):
            return
        card = review_cards.review_card(item, self._titles)
        self._client.chat_update(channel=item.card_channel, ts=item.card_ts, **card.payload())

    def tell_requester(self, item: ReviewItem, outcome: str) -> None:
        message = review_cards.requester_message(item, outcome, self._ttl_h)
        self._client.chat_postMessage(
            channel=item.channel,
            thread_ts=item.thread_ts or None,
            unfurl_links=False,
            unfurl_media=False,
            **message.payload(),
        )


class GroupMembers:
    """Members of a Slack user group (id `S…`), cached for `ttl_s`.

    Fails closed: if Slack cannot be asked, the group counts as empty (admins still act)
    until the next successful read.
    """

    def __init__(
        self,
        client: WebClient,
        group_id: str,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._group = group_id
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._members: frozenset[str] = frozenset()
        self._fetched = float("-inf")

    def __call__(self) -> frozenset[str]:
        if not self._group:
            return frozenset()
        with self._lock:
            if self._clock() - self._fetched < self._ttl:
                return self._members
            try:
                resp = self._client.usergroups_users_list(usergroup=self._group)
                self._members = frozenset(str(u) for u in resp.get("users") or ())
            except SlackApiError as exc:
                log.warning(
                    "usergroups.users.list %s failed: %s", self._group, exc.response.get("error")
                )
                self._members = frozenset()
            except Exception as exc:
                log.warning("usergroups.users.list failed: %s", type(exc).__name__)
                self._members = frozenset()
            self._fetched = self._clock()
            return self._members
