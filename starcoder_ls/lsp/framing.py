"""Base protocol framing (`Content-Length` headers), forgiving where it is harmless and
never stuck: a bad frame is skipped and reading resumes at the next header.

pygls' reader only accepts `Content-Length: <n>\\r\\n` exactly; after anything else (a
lowercase name, LF-only line ends, no space after the colon, a length a few bytes off)
it never answers again, and it allocates whatever length a header claims, so a single
`Content-Length: 100000000000000` kills the process. This parser:

- accepts any case of header names, `\\n` or `\\r\\n` line ends, any spaces around the
  colon, and ignores other well-formed headers (`Content-Type`);
- refuses bodies over `max_body` bytes (the header is dropped, whatever follows it is
  skipped up to the next header);
- takes a message whose length is a few bytes off when the JSON itself shows where it
  ends, and hands the bytes after it back to header parsing;
- costs time linear in the bytes received, however they are cut into reads: a body still
  arriving is scanned once for where its JSON could end (`_Scan`), and decoded there, not
  decoded again at every read (a client sending a 1 MiB body one `}` at a time made that
  quadratic);
- on anything else reports one `BadFrame` and resynchronises on the next `Content-Length`.

It is pure (bytes in, events out) so that every case is a unit test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_BODY = 64 * 1024 * 1024
"""The largest message accepted; documents are capped well below this (16 M characters)."""
MAX_HEADER = 8 * 1024
"""A header block longer than this is garbage, not headers."""
LENGTH_SLACK = 1024
"""How far past a declared length a message may run and still be taken whole."""
EARLY_LIMIT = 1024 * 1024
"""A buffered body up to this size is checked for a complete message before its declared
length has arrived, so a request whose length is a few bytes too long is answered now,
not when the next message happens to supply the missing bytes."""

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_IN_STRING = re.compile(rb'["\\]')
_STRUCTURE = re.compile(rb'["{}\[\]]')
_LINE_END = re.compile(rb"\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTENT_LENGTH = b"content-length"
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True)
class Message:
    """One decoded JSON value (not yet known to be a valid JSON-RPC message)."""

    value: Any


@dataclass(frozen=True)
class Unparsable:
    """A framed body that is not JSON: the server answers it with -32700."""

    reason: str


@dataclass(frozen=True)
class BadFrame:
    """Bytes skipped or a frame mended; logged once. `sample` is for debug logs only."""

    reason: str
    sample: bytes = b""


@dataclass(frozen=True)
class Oversized(BadFrame):
    """A header declaring a body over the parser's `max_body` (the body is skipped)."""

    length: int = 0


Event = Message | Unparsable | BadFrame


class FrameParser:
    """Feed it bytes as they arrive; it returns the events they complete."""

    def __init__(self, *, max_body: int = MAX_BODY, max_header: int = MAX_HEADER) -> None:
        self._buffer = bytearray()
        self._length: int | None = None
        """The declared body length while a body is awaited; None while reading headers."""
        self._skipping = False
        """Inside a run of garbage that has already been reported."""
        self.max_body = max_body
        """Settable: a TCP connection accepts far less before it is initialized."""
        self._max_header = max_header
        self._searched = 0
        """How much of the buffered header block had no end of headers."""
        self._scan = _Scan()

    @property
    def mid_frame(self) -> bool:
        """Whether part of a frame (a header or a body) has arrived and not the rest."""
        return self._length is not None or bool(bytes(self._buffer[:64]).strip(_WHITESPACE))

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def _step(self, events: list[Event]) -> bool:
        if self._length is None:
            return self._headers(events)
        return self._body(events)

    # -- headers -------------------------------------------------------------------------

    def _headers(self, events: list[Event]) -> bool:
        buffer = self._buffer
        start = 0
        while start < len(buffer) and buffer[start] in _WHITESPACE:
            start += 1
        if start:
            del buffer[:start]
            self._searched = 0
        if not buffer:
            return False
        end = _HEADER_END.search(buffer, max(0, self._searched - 3))
        if end is None:
            self._searched = len(buffer)
            if len(buffer) > self._max_header:
                self._resync(events, "no end of headers")
                return True
            return False
        self._searched = 0
        block = bytes(buffer[: end.start()])
        length, problem = self._parse_block(block)
        if problem is not None:
            self._resync(events, problem)
            return True
        assert length is not None
        del buffer[: end.end()]
        if length > self.max_body:
            reason = f"Content-Length {length} is over the {self.max_body}-byte limit"
            if not self._skipping:
                events.append(Oversized(reason, length=length))
            self._skipping = True  # its body, if it follows, is skipped without more logs
            return True
        self._skipping = False
        self._length = length
        self._scan = _Scan()
        return True

    def _parse_block(self, block: bytes) -> tuple[int | None, str | None]:
        length: int | None = None
        for line in _LINE_END.split(block):
            name, colon, value = line.partition(b":")
            name, value = name.strip(), value.strip()
            if not colon or not _TOKEN.fullmatch(name):
                return None, "a header line that is not `Name: value`"
            if name.lower() != _CONTENT_LENGTH:
                continue  # Content-Type and the like change nothing for us
            if not value.isdigit():
                return None, "a Content-Length that is not a number"
            declared = int(value) if len(value) <= 18 else self.max_body + 1
            if length is not None and declared != length:
                return None, "two different Content-Length headers"
            length = declared
        if length is None:
            return None, "headers without Content-Length"
        return length, None

    def _resync(self, events: list[Event], reason: str) -> None:
        """Drop bytes up to the next `Content-Length` (any case) after the current start."""
        buffer = self._buffer
        found = bytes(buffer).lower().find(_CONTENT_LENGTH, 1)
        if found < 0:
            keep = len(_CONTENT_LENGTH) - 1  # it may be cut in two by the read
            found = max(len(buffer) - keep, 1)
        skipped = bytes(buffer[:found])
        del buffer[:found]
        self._searched = 0
        self._report(events, reason, skipped)

    def _report(self, events: list[Event], reason: str, skipped: bytes = b"") -> None:
        if not self._skipping:
            events.append(BadFrame(reason, skipped[:200]))
        self._skipping = True

    # -- body ----------------------------------------------------------------------------

    def _body(self, events: list[Event]) -> bool:
        buffer, length = self._buffer, self._length
        assert length is not None
        if len(buffer) >= length:
            decoded = _decode_prefix(bytes(buffer[:length]))
            if decoded is not None:
                value, end = decoded
                if end < length and bytes(buffer[end:length]).strip(_WHITESPACE):
                    events.append(BadFrame(f"Content-Length {length} runs past the message"))
                    return self._take(events, value, end)
                return self._take(events, value, length)
            longer = _decode_prefix(bytes(buffer[: length + LENGTH_SLACK]))
            if longer is not None and longer[1] > length:
                events.append(BadFrame(f"Content-Length {length} ends inside the message"))
                return self._take(events, *longer)
            del buffer[:length]
            self._length = None
            self._skipping = True
            events.append(Unparsable(f"the {length}-byte body is not JSON"))
            return True
        if len(buffer) <= EARLY_LIMIT and not self._scan.finished:
            end = self._scan.advance(buffer)
            if end is not None and not bytes(buffer[end:]).strip(_WHITESPACE):
                decoded = _decode_prefix(bytes(buffer[:end]))
                if decoded is not None:
                    return self._take(events, *decoded)
        return False

    def _take(self, events: list[Event], value: Any, end: int) -> bool:
        del self._buffer[:end]
        self._length = None
        self._skipping = False
        events.append(Message(value))
        return True


def _decode_prefix(data: bytes) -> tuple[Any, int] | None:
    """The JSON value at the start of `data` and the byte index where it ends, or None."""
    text = _utf8_prefix(data)
    if text is None:
        return None
    stripped = text.lstrip(" \t\r\n")
    try:
        value, end = json.JSONDecoder().raw_decode(stripped)
    except (ValueError, RecursionError):
        return None
    consumed = len(text) - len(stripped) + end
    return value, len(text[:consumed].encode("utf-8", "surrogatepass"))


def _utf8_prefix(data: bytes) -> str | None:
    """Decode, allowing only a code point cut in two at the very end (a slice's edge)."""
    for cut in range(4):
        try:
            return data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 4:
                return None
    return None


class _Scan:
    """Where the JSON value at the start of a body still arriving could end: its brackets
    and strings are followed across reads, each byte once, so that the body is decoded
    (once) when its outermost bracket closes, not at every read that ends in `}`."""

    def __init__(self) -> None:
        self.position = 0
        self.depth = 0
        self.in_string = False
        self.finished = False
        """The outermost bracket closed (or a stray one came first): no more to find."""

    def advance(self, buffer: bytearray) -> int | None:
        """The index after the outermost closing bracket, once it is in `buffer`."""
        position, depth, in_string = self.position, self.depth, self.in_string
        size = len(buffer)
        found: int | None = None
        while position < size:
            if in_string:
                match = _IN_STRING.search(buffer, position)
                if match is None:
                    position = size
                elif buffer[match.start()] == ord("\\"):
                    position = match.start() + 2  # past the escaped byte, maybe not here yet
                else:
                    in_string, position = False, match.end()
                continue
            match = _STRUCTURE.search(buffer, position)
            if match is None:
                position = size
                continue
            char, position = buffer[match.start()], match.end()
            if char == ord('"'):
                in_string = True
            elif char in b"{[":
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    self.finished = True
                    found = position if depth == 0 else None
                    break
        self.position, self.depth, self.in_string = position, depth, in_string
        return found
