"""A model caught in a loop may repeat a whole block of lines rather than one line."""

from __future__ import annotations

from starcoder_ls.text.lines import document_lines
from starcoder_ls.text.types import CompletionContext, Mode

MIN_COPIES = 2
"""Whole copies of a block of two lines or more, in a row at the end, that mark a loop."""


def remove_repetitive_blocks(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Keep the first copy of a block of lines that the completion repeats until it ends.

    The shortest block and the earliest start win, so `a\\nb\\na\\nb\\na` keeps
    `a\\nb`. The last copy may be cut short by the token limit, down to a prefix
    of its last line. Single lines repeating are `remove_repetitive_lines`' job.
    """
    lines = [line.rstrip() for line in document_lines(text.rstrip(), ctx)]
    count = len(lines)
    for period in range(2, count // MIN_COPIES + 1):
        start = _periodic_from(lines, period)
        if count - start >= MIN_COPIES * period and any(lines[start : start + period]):
            return "\n".join(text.split("\n")[: start + period]).rstrip()
    return text


def _periodic_from(lines: list[str], period: int) -> int:
    """The earliest line from which every line equals the one `period` lines later."""
    last = len(lines) - 1
    if not lines[last - period].startswith(lines[last]):
        return len(lines)
    start = last - period
    while start > 0 and lines[start - 1] == lines[start - 1 + period]:
        start -= 1
    return start
