"""Errors the store raises; callers catch these, never SQLAlchemy's."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for store errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or failed mid-operation.

    Callers fail closed: a request whose decision cannot be audited is not answered.
    The message is one line, safe to show (no password, no traceback).
    """


class SchemaTooNew(StoreError):
    """The database was migrated by a newer Redline than this one."""


class ReviewRefused(StoreError):
    """A review action that the rules forbid (e.g. approving one's own request)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # machine-readable: "self_approval"
