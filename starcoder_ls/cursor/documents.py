"""Incremental document sync by the LSP rules, so the server's text is the editor's text.

pygls applies edits on `str.splitlines()` lines, which also end at `\\f`, `\\v`,
`\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029, and it moves a character past the end of a
line one unit back *into* the line (so `"abc"` + `X` at 0:10 gives `"abXc"`, and on a CRLF
line the edit can land between `\\r` and `\\n`). LSP says otherwise:

- only `\\n`, `\\r\\n` and `\\r` end lines;
- a character past the end of a line means the end of that line (before its line break);
- a line past the last one means the end of the document;
- a position inside a code point (a surrogate pair in UTF-16, a multi-byte sequence in
  UTF-8) rounds down to its start, the same way `context.offset_at_or_raise` rounds the cursor.

Pure functions on `str`; `lsp/protocol.py` plugs them into pygls' document class, and
`context.py` finds the cursor with the same line and code-unit arithmetic.
"""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CODECS: dict[str, tuple[str, int]] = {
    "utf-8": ("utf-8", 1),
    "utf-16": ("utf-16-le", 2),
    "utf-32": ("utf-32-le", 4),
}
_BLOCK = 1 << 16
"""Line breaks are counted a block at a time (at C speed) before any is located one by one:
an edit near the end of a 2 MB file costs well under a millisecond to place."""


def line_start(text: str, line: int) -> int | None:
    """The index where `line` starts, or None when the document has fewer lines."""
    if line <= 0:
        return 0
    if "\r" not in text:
        return _nth_newline_end(text, line)
    seen = 0
    position = 0
    while position < len(text):
        end = min(position + _BLOCK, len(text))
        if text[end - 1 : end] == "\r":
            end += 1  # never cut a "\r\n" in two: it is one line break
        breaks = text.count("\n", position, end) + text.count("\r", position, end)
        breaks -= text.count("\r\n", position, end)
        if seen + breaks >= line:
            for match in LINE_BREAK.finditer(text, position, end):
                seen += 1
                if seen == line:
                    return match.end()
        seen += breaks
        position = end
    return None


def _nth_newline_end(text: str, line: int) -> int | None:
    seen = 0
    position = 0
    while position < len(text):
        end = min(position + _BLOCK, len(text))
        breaks = text.count("\n", position, end)
        if seen + breaks >= line:
            index = position - 1
            for _ in range(line - seen):
                index = text.index("\n", index + 1)
            return index + 1
        seen += breaks
        position = end
    return None


def line_end(text: str, start: int) -> int:
    """The end of the line starting at `start`, before its line break."""
    match = LINE_BREAK.search(text, start)
    return len(text) if match is None else match.start()


def clamped_offset_at(text: str, line: int, character: int, encoding: str) -> int:
    """The string index of an LSP position in an edit's range, by the rules above."""
    units = position_codec(encoding)
    start = line_start(text, max(line, 0))
    if start is None:
        return len(text)
    end = line_end(text, start)
    return start + units_to_index(text[start:end], max(character, 0), units)


def apply_edit(
    text: str,
    start: tuple[int, int],
    end: tuple[int, int],
    new_text: str,
    encoding: str,
) -> str:
    """Replace the range `start`-`end` (line, character in code units of `encoding`).

    A reversed range is taken as the same range the right way round, as VS Code's own
    text document does.
    """
    first = clamped_offset_at(text, start[0], start[1], encoding)
    last = clamped_offset_at(text, end[0], end[1], encoding)
    if last < first:
        first, last = last, first
    edited = text[:first] + new_text + text[last:]
    # The halves of a surrogate pair can arrive in two edits; the editor then holds one
    # character, and so must the server (as if the text had come in a single string).
    low, high = max(first - 1, 0), min(first + len(new_text) + 1, len(edited))
    if _SURROGATE.search(edited, low, high):
        joined = edited[low:high].encode("utf-16-le", "surrogatepass")
        edited = edited[:low] + joined.decode("utf-16-le", "surrogatepass") + edited[high:]
    return edited


def encoding_name(kind: object) -> str:
    """The negotiated position encoding as `position_codec` names it, from lsprotocol's
    `PositionEncodingKind` or a string; UTF-16, LSP's default, when none was agreed."""
    value = str(getattr(kind, "value", kind) or "utf-16")
    return value if value in _CODECS else "utf-16"


def position_codec(encoding: str) -> tuple[str, int]:
    """The Python codec and the code unit's width in bytes of an LSP position encoding."""
    try:
        return _CODECS[encoding]
    except KeyError:
        known = ", ".join(_CODECS)
        raise ValueError(f"unknown position encoding {encoding!r} (expected {known})") from None


def units_to_index(line_text: str, units: int, codec: tuple[str, int]) -> int:
    """The index in `line_text` after `units` code units of `codec` (from `position_codec`).

    Clamped to the line's end; a cut inside a code point moves back to its start.
    """
    name, width = codec
    if width == 4 or line_text.isascii():
        return min(units, len(line_text))
    data = line_text.encode(name, "surrogatepass")
    cut = min(units * width, len(data))
    if width == 1:
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
    elif cut < len(data) and cut >= 2:
        unit = int.from_bytes(data[cut : cut + 2], "little")
        before = int.from_bytes(data[cut - 2 : cut], "little")
        if 0xDC00 <= unit <= 0xDFFF and 0xD800 <= before <= 0xDBFF:
            cut -= 2
    return len(data[:cut].decode(name, "surrogatepass"))


def has_lone_surrogate(text: str) -> bool:
    """Half of a UTF-16 surrogate pair, which JSON can carry (`"\\ud800"`) and an editor can
    hold mid-edit: no tokenizer reads it, so such a document is not completed."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
