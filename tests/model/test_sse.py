"""The incremental SSE decoder, whatever the byte boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model.sse import SSEDecoder, SSEError, SSEEvent

STREAM = (
    "\ufeff: a comment\r\n"
    "event: content_block_delta\r\n"
    'data: {"text": "Grüße 日本 🎉"}\r\n'
    "\r\n"
    "data: line one\n"
    "data: line two\n"
    "id: 7\n"
    "\n"
    "data: [DONE]\r"
    "\r"
).encode()
EXPECTED = [
    SSEEvent("content_block_delta", '{"text": "Grüße 日本 🎉"}'),
    SSEEvent("message", "line one\nline two"),
    SSEEvent("message", "[DONE]"),
]


def _decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events


def test_whole_stream() -> None:
    assert _decode([STREAM]) == EXPECTED


def test_byte_by_byte() -> None:
    assert _decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert _decode(pieces) == EXPECTED


def test_invalid_utf8_is_an_error() -> None:
    with pytest.raises(SSEError):
        SSEDecoder().feed(b"data: \xff\n\n")


def test_endless_line_is_an_error() -> None:
    decoder = SSEDecoder(max_line_chars=100)
    with pytest.raises(SSEError):
        for _ in range(20):
            decoder.feed(b"data: " + b"x" * 10)


def test_incomplete_event_is_not_emitted() -> None:
    assert _decode([b"data: half"]) == []
