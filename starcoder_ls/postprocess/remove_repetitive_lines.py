"""A model caught in a loop writes the same line, or the same few characters, until stopped."""

from __future__ import annotations

from starcoder_ls.text.lines import document_lines
from starcoder_ls.text.loops import loop_start
from starcoder_ls.text.types import CompletionContext, Mode

REPEATED_LINES = 3
"""Copies of one line in a row that mark a loop; two identical lines are sometimes real code."""
ENDS_A_PIECE = frozenset(")]};\"'`")
"""Last characters after which the text before a loop stands on its own (besides a word)."""


def remove_repetitive_lines(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Keep one copy of a line repeated at the end, and cut a last line that ends in a loop.

    Generation stops in the middle of such a loop (at the token limit, or at the
    engine's repetition stop), so the repeats are at the end of the text, the last
    copy often cut short; blank lines between the copies do not break the loop.
    A last line like `x = f(a); 1. 1. 1. 1. 1.` keeps what it wrote before the
    loop when that ends a piece of code (`x = f(a);`); one like `y = foo(foo(foo(`
    has no sensible end: the line goes, or the whole completion when it is the
    only line.
    """
    lines = document_lines(text, ctx)
    filled = [number for number, line in enumerate(lines) if line.strip()]
    if not filled:
        return text
    last = lines[filled[-1]].rstrip()
    start = loop_start(last)
    if start is not None:
        kept = _before_loop(text, lines, filled[-1], start, ctx)
        if kept is not None:
            return kept
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


def _before_loop(
    text: str, lines: list[str], number: int, start: int, ctx: CompletionContext
) -> str | None:
    """The completion up to the loop on its line `number`, when what precedes the loop on
    that line is code of the completion's own that can end there; else None."""
    own = len(ctx.line_prefix) if number == 0 else 0
    before = lines[number][:start].rstrip()
    if len(before) <= own:
        return None
    written = before[own:]
    if not any(ch.isalnum() for ch in written):
        return None
    if not (before[-1].isalnum() or before[-1] == "_" or before[-1] in ENDS_A_PIECE):
        return None
    head = _first_lines(text, number)
    return f"{head}\n{written}" if number else written
