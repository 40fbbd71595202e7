"""ModelError: the one exception the model client raises, with a sentence for the user.

`user_message` is fixed wording per kind (plus a status code or a timeout figure): it never
carries provider bodies, URLs or keys, so the ask flow can post it to Slack as is.
`detail` is for logs and is already redacted by the client that raised it.
"""

from __future__ import annotations

from typing import Literal

ModelErrorKind = Literal["timeout", "rate_limited", "server", "bad_response", "unavailable"]
KINDS: tuple[str, ...] = ("timeout", "rate_limited", "server", "bad_response", "unavailable")


class ModelError(Exception):
    def __init__(
        self,
        kind: ModelErrorKind,
        user_message: str,
        *,
        detail: str = "",
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ModelError kind {kind!r}")
        # args hold no detail: `detail` may still be redacted after construction, and
        # __str__ below always renders the current value.
        super().__init__(kind, user_message)
        self.kind: ModelErrorKind = kind
        self.user_message = user_message
        self.detail = detail
        self.status = status
        self.retryable = retryable  # whether another attempt could help (used by the retry loop)
        self.retry_after: float | None = None  # seconds, from the provider's Retry-After

    def __str__(self) -> str:
        return f"{self.kind}: {self.user_message}" + (f" [{self.detail}]" if self.detail else "")


def timeout_error(seconds: float, detail: str = "") -> ModelError:
    return ModelError(
        "timeout",
        f"The model did not answer within {seconds:g} s; please try again.",
        detail=detail,
    )


def stream_timeout_error(seconds: float, detail: str = "") -> ModelError:
    return ModelError(
        "timeout",
        f"The model stopped sending its answer for more than {seconds:g} s; "
        "the answer may be incomplete. Please try again.",
        detail=detail,
    )


def too_long_error(seconds: float, detail: str = "") -> ModelError:
    return ModelError(
        "timeout",
        f"The model's answer took longer than {seconds:g} s and was cut off; "
        "please ask for a shorter answer.",
        detail=detail,
    )


def unavailable_error(detail: str = "", retryable: bool = True) -> ModelError:
    return ModelError(
        "unavailable",
        "The model service could not be reached; please try again in a few minutes.",
        detail=detail,
        retryable=retryable,
    )


def bad_response_error(detail: str = "") -> ModelError:
    return ModelError(
        "bad_response",
        "The model service sent a reply that could not be read; please try again.",
        detail=detail,
    )


def cut_off_error(detail: str = "", retryable: bool = False) -> ModelError:
    return ModelError(
        "server",
        "The connection to the model service broke during the answer; please try again.",
        detail=detail,
        retryable=retryable,
    )


def rate_limited_error(detail: str = "", retryable: bool = True) -> ModelError:
    return ModelError(
        "rate_limited",
        "The model service is busy (rate limited); please try again in a minute.",
        detail=detail,
        status=429,
        retryable=retryable,
    )


def error_for_status(status: int, detail: str = "") -> ModelError:
    """Map an HTTP error status from the provider to a ModelError."""
    if status == 429:
        return rate_limited_error(detail)
    if 300 <= status < 400:
        return ModelError(
            "unavailable",
            f"The model service answered with a redirect (HTTP {status}); "
            "an admin needs to check LLM_BASE_URL.",
            detail=detail,
            status=status,
        )
    if status in (401, 403):
        return ModelError(
            "unavailable",
            f"The model service refused Redline's credentials (HTTP {status}); "
            "an admin needs to check LLM_API_KEY.",
            detail=detail,
            status=status,
        )
    if status == 404:
        return ModelError(
            "unavailable",
            "The model service does not know the configured endpoint or model (HTTP 404); "
            "an admin needs to check LLM_BASE_URL and LLM_MODEL.",
            detail=detail,
            status=status,
        )
    if status == 408:
        return ModelError(
            "timeout",
            "The model service timed out (HTTP 408); please try again.",
            detail=detail,
            status=status,
            retryable=True,
        )
    if status >= 500:
        return ModelError(
            "server",
            f"The model service had an error (HTTP {status}); please try again shortly.",
            detail=detail,
            status=status,
            retryable=True,
        )
    return ModelError(
        "server",
        f"The model service rejected the request (HTTP {status}); "
        "try a shorter question or a new thread.",
        detail=detail,
        status=status,
    )


def error_for_provider_type(
    error_type: str, detail: str = "", retryable: bool = True
) -> ModelError:
    """Map an error reported inside a 200 response (a stream error event) to a ModelError."""
    kind = error_type.lower()
    if "rate" in kind or kind == "429":
        return rate_limited_error(detail, retryable=retryable)
    if "overloaded" in kind or kind in ("api_error", "server_error", "internal_error"):
        return ModelError(
            "server",
            "The model service is overloaded or had an error; please try again shortly.",
            detail=detail,
            retryable=retryable,
        )
    if "timeout" in kind:
        return ModelError(
            "timeout", "The model service timed out; please try again.", detail=detail
        )
    return ModelError(
        "server",
        "The model service could not answer this request; please try again.",
        detail=detail,
    )
