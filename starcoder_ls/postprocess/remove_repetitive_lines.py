"""A model caught in a loop writes the same line, or the same few characters, until stopped."""

from __future__ import annotations

from starcoder_ls.text.lines import document_lines
from starcoder_ls.types import CompletionContext, Mode

REPEATED_LINES = 3
"""Copies of one line in a row that mark a loop; two identical lines are sometimes real code."""
LOOP_UNIT = range(2, 41)
"""Lengths of a fragment that, written `LOOP_COPIES` times at the end of a line, is a loop.

A fragment of one repeated character is left out: `# ------` is a separator, not a loop."""
LOOP_COPIES = 5


def remove_repetitive_lines(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Keep one copy of a line repeated at the end, and drop a last line that ends in a loop.

    Generation stops at the token limit in the middle of such a loop, so the
    repeats are at the end of the text, the last copy often cut short; blank
    lines between the copies do not break the loop. A last line like
    `foo(foo(foo(foo(foo(` has no sensible end: the line goes, or the whole
    completion when it is the only line.
    """
    lines = document_lines(text, ctx)
    filled = [number for number, line in enumerate(lines) if line.strip()]
    if not filled:
        return text
    last = lines[filled[-1]].rstrip()
    if _ends_in_loop(last):
        if len(filled) == 1:
            return None
        return _first_lines(text, filled[-2] + 1)
    copies = _trailing_copies(lines, filled)
    if len(copies) >= REPEATED_LINES:
        return _first_lines(text, copies[-1] + 1)
    return text


def _first_lines(text: str, count: int) -> str:
    return "\n".join(text.split("\n")[:count])


def _trailing_copies(lines: list[str], filled: list[int]) -> list[int]:
    """Line numbers of the run of equal lines at the end, latest first; the last may be cut off."""
    last = lines[filled[-1]].rstrip()
    if len(filled) < 2:
        return [filled[-1]]
    model = lines[filled[-2]].rstrip()
    if not model.startswith(last):
        return [filled[-1]]
    copies = [filled[-1]]
    for number in reversed(filled[:-1]):
        if lines[number].rstrip() != model:
            break
        copies.append(number)
    return copies


def _ends_in_loop(line: str) -> bool:
    """Any cut of a periodic text is periodic, so the unit can be read off the line's end."""
    for size in LOOP_UNIT:
        if size * LOOP_COPIES > len(line):
            break
        unit = line[-size:]
        if len(set(unit)) > 1 and unit.strip() and line.endswith(unit * LOOP_COPIES):
            return True
    return False
