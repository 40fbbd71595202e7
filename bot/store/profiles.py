"""Per-channel profile overrides set by admins (`/redline profile set`), audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from bot.settings import PROFILES
from bot.store.audit import AuditLog, clean
from bot.store.db import Database
from bot.store.models import to_us, utcnow
from bot.store.schema import channel_profiles
from bot.types import AuditEntry


class ChannelProfiles:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def get(self, channel: str) -> str | None:
        with self._db.read("reading a channel profile") as conn:
            return conn.execute(
                select(channel_profiles.c.profile).where(channel_profiles.c.channel == channel)
            ).scalar()

    def all(self) -> dict[str, str]:
        with self._db.read("reading channel profiles") as conn:
            rows = conn.execute(select(channel_profiles.c.channel, channel_profiles.c.profile))
            return {c: p for c, p in rows}

    def set(
        self, channel: str, profile: str | None, by_user: str, *, team: str = "",
        now: datetime | None = None,
    ) -> None:
        """Set (or with profile=None, clear) the channel's profile; audited in the same
        transaction. Raises ValueError for an unknown profile."""
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
        channel = clean(channel, 64)
        if not channel:
            raise ValueError("channel must not be empty")
        now = now or utcnow()
        with self._db.write("setting a channel profile") as conn:
            self._audit.lock_head(conn)
            if profile is None:
                conn.execute(delete(channel_profiles).where(channel_profiles.c.channel == channel))
            else:
                stmt = self._db.insert(channel_profiles).values(
                    channel=channel, profile=profile, set_by=clean(by_user, 64), set_us=to_us(now))
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["channel"],
                    set_={"profile": profile, "set_by": clean(by_user, 64), "set_us": to_us(now)},
                ))
            entry = AuditEntry(
                action="admin", request_id="", team=team, channel=channel, user=by_user,
                profile=profile or "", decision="profile_set" if profile else "profile_cleared",
                detail=f"profile for {channel} set to {profile}" if profile
                else f"profile override for {channel} cleared",
            )
            self._audit.extend_chain(conn, [self._audit.prepare(entry, now=now)])
