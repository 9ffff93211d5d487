"""Turns an LSP cursor position into the read-only `CompletionContext` of one request.

LSP counts characters in code units of the negotiated encoding (UTF-16 unless
the client agreed to something else) while Python strings index code points,
so every position crosses this module before any other code sees it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice
from urllib.parse import unquote, urlsplit

from starcoder_ls.cursor.documents import (
    LINE_BREAK,
    line_end,
    line_start,
    position_codec,
    units_to_index,
)
from starcoder_ls.text.types import CompletionContext

_INDENT_SAMPLE_LINES = 5000
"""Indentation is a file-wide habit; the head of a huge file shows it as well as the whole."""
DEFAULT_INDENT_UNIT = "    "


class PositionError(ValueError):
    """A position the document cannot contain; the server answers it as an invalid request."""


def offset_at_or_raise(
    text: str, line: int, character: int, encoding: str, *, uri: str = "the document"
) -> int:
    """Return the string index of an LSP position; `PositionError` for one the text lacks.

    Only the cursor line is ever encoded, and its start is found by counting line breaks
    (`documents.line_start`), so the cost on a large document is well under a
    millisecond, never an encoding of the whole text. A position inside a code point
    rounds down to its start, as `documents.clamped_offset_at` rounds an edit's.
    """
    codec = position_codec(encoding)
    if line < 0 or character < 0:
        raise PositionError(f"position {line}:{character} in {uri} is negative")
    start, end = _line_span(text, line, uri)
    return start + units_to_index(text[start:end], character, codec)


def line_text(text: str, line: int, *, uri: str = "the document") -> str:
    """The text of one line, without its line break."""
    if line < 0:
        raise PositionError(f"line {line} in {uri} is negative")
    start, end = _line_span(text, line, uri)
    return text[start:end]


def character_to_units(line_text: str, index: int, encoding: str) -> int:
    """Convert a string index within a line to code units, for ranges sent back to the client."""
    name, width = position_codec(encoding)
    if index < 0:
        raise PositionError(f"character index {index} is negative")
    head = line_text[:index]
    if width == 4 or head.isascii():
        return len(head)
    return len(head.encode(name, "surrogatepass")) // width


def detect_indent_unit(text: str) -> str:
    """Guess the document's indentation unit from the steps by which lines indent.

    Counting steps (not absolute indentation) keeps deeply nested code from voting
    for 8 or 12 spaces. Continuation lines of block comments (` * text`) are
    ignored, since their single space is alignment, not indentation.
    """
    steps: Counter[str] = Counter()
    previous = ""
    for row in islice(text.split("\n", _INDENT_SAMPLE_LINES), _INDENT_SAMPLE_LINES):
        body = row.lstrip(" \t")
        if not body.strip() or body.startswith("*"):
            continue
        indent = row[: len(row) - len(body)]
        added = indent[len(previous) :]
        if indent.startswith(previous) and added and len(set(added)) == 1:
            steps["\t" if added[0] == "\t" else added] += 1
        previous = indent
    if not steps:
        return DEFAULT_INDENT_UNIT
    return max(steps, key=lambda step: (steps[step], step == DEFAULT_INDENT_UNIT))


def detect_line_ending(text: str) -> str:
    """Return the document's first line ending, so inserted text can match it."""
    match = LINE_BREAK.search(text)
    return "\n" if match is None else match.group()


@dataclass(frozen=True)
class ClientPosition:
    """A cursor as the client sent it: `character` counts code units of `encoding`."""

    line: int
    character: int
    encoding: str


def build_context(
    *,
    text: str,
    uri: str,
    version: int,
    language_id: str,
    position: ClientPosition,
    path: str | None = None,
) -> CompletionContext:
    """Resolve the cursor once so that no later stage deals with encodings or line endings.

    The text is normalised to "\\n" line endings: line numbers and in-line
    columns do not change, and prompts and filters only need to know one kind
    of line break. The server converts inserted text back with
    `detect_line_ending`. Other open documents are not read here: only a request that
    really generates with cross-file context copies them in (`dataclasses.replace`).
    """
    if "\r" in text:
        text = LINE_BREAK.sub("\n", text)
    line = position.line
    offset = offset_at_or_raise(text, line, position.character, position.encoding, uri=uri)
    cursor_line_start = text.rfind("\n", 0, offset) + 1
    return CompletionContext(
        uri=uri,
        version=version,
        language_id=language_id,
        path=path if path is not None else path_from_uri(uri),
        prefix=text[:offset],
        suffix=text[offset:],
        line=line,
        character=offset - cursor_line_start,
        indent_unit=detect_indent_unit(text),
    )


def path_from_uri(uri: str) -> str:
    """The file name models see in `<filename>` metadata: `file:///a/b%20c.py` gives `b c.py`."""
    parts = urlsplit(uri)
    path = unquote(parts.path) if parts.scheme in ("file", "") else parts.path
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name or uri


def _line_span(text: str, line: int, uri: str) -> tuple[int, int]:
    start = line_start(text, line)
    if start is None:
        lines = len(LINE_BREAK.findall(text)) + 1
        raise PositionError(f"line {line} is past the end of {uri} ({lines} lines)")
    return start, line_end(text, start)
