"""An incremental Server-Sent Events decoder fed with raw bytes.

Bytes go in as they arrive from the socket (a multi-byte UTF-8 character may be split
across pieces; the incremental decoder keeps the partial bytes), complete events come out.
Works on bytes rather than httpx's line iterator so the caller can check its deadline on
every piece received, even when a server trickles a line without ever ending it.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


class SSEError(ValueError):
    """The byte stream is not valid SSE (bad UTF-8, or a line longer than the limit)."""


@dataclass(frozen=True)
class SSEEvent:
    event: str  # "message" when the server named none
    data: str


class SSEDecoder:
    def __init__(self, max_line_chars: int = 1_000_000) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._max_line = max_line_chars
        self._first = True
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise SSEError(f"stream is not UTF-8: {exc.reason}") from None
        if self._first and text:
            text = text.removeprefix("\ufeff")
            self._first = False
        if self._skip_lf and text:
            # The previous piece ended in "\r": a "\n" now is the rest of that "\r\n".
            text = text.removeprefix("\n")
            self._skip_lf = False
        self._buffer += text
        events: list[SSEEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, after = cut
            if after > len(self._buffer):  # a "\r" ending the buffer
                self._skip_lf = True
            line, self._buffer = self._buffer[:end], self._buffer[after:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) > self._max_line:
            raise SSEError("stream line too long")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None  # "id", "retry" and unknown fields are not needed here


def _line_end(buffer: str) -> tuple[int, int] | None:
    """(end of line, start of next) for the first complete line, or None."""
    newline, carriage = buffer.find("\n"), buffer.find("\r")
    if carriage == -1 or (newline != -1 and newline < carriage):
        return None if newline == -1 else (newline, newline + 1)
    if carriage + 1 == len(buffer):
        return carriage, carriage + 2  # past the end: the caller skips a "\n" coming next
    return carriage, carriage + 2 if buffer[carriage + 1] == "\n" else carriage + 1
