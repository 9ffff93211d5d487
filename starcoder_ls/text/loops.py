"""A line that ends in one fragment written again and again, or lines that end in one
block of lines written again and again: a model caught in a loop.

The engine stops a generation on it (engine/stopping.py) and the filter cuts it
(postprocess/remove_repetitive_lines.py); both read it the same way, from here.
"""

from __future__ import annotations

LOOP_UNIT = range(2, 41)
"""Lengths of a fragment that, written `LOOP_COPIES` times at the end of a line, is a loop.

A fragment of one repeated mark is left out: `# ------` is a separator, not a loop; one
repeated letter or digit is not (`1000000000…` written to the token limit)."""
LOOP_COPIES = 5
MIN_RUN_CHARS = 64
"""A run of one letter or digit is a loop from this long: `10000000000` and a 32-digit hex
constant are literals, 64 zeros and more are a model that cannot stop."""


def loop_start(line: str, *, min_chars: int = 0) -> int | None:
    """Where the loop at the end of `line` begins, or None when it ends in none.

    A loop is `LOOP_COPIES` or more copies of a fragment of `LOOP_UNIT` characters (not
    one mark repeated, not blanks), spanning at least `min_chars`. Any cut of a
    periodic text is periodic, so the fragment is read off the line's end (the last copy
    may be cut short), and the loop begins where the period does: `y = foo(foo(foo(fo`
    loops from the first `foo(`. The shortest fragment wins.
    """
    for size in LOOP_UNIT:
        if size * LOOP_COPIES > len(line):
            break
        unit = line[-size:]
        run = len(set(unit)) == 1
        if (run and not unit[0].isalnum()) or not unit.strip():
            continue
        if not line.endswith(unit * LOOP_COPIES):
            continue
        start = len(line) - size * LOOP_COPIES
        while start > 0 and line[start - 1] == line[start - 1 + size]:
            start -= 1
        if len(line) - start >= (max(min_chars, MIN_RUN_CHARS) if run else min_chars):
            return start
    return None


LINE_COPIES = 3
LINE_PERIODS = range(1, 5)
"""Blocks of one to four whole lines that, written `LINE_COPIES` times in a row at the end
of a completion, are a loop (`f.args = make(...)` three times, a two-line `if` pair...)."""


def ends_in_repeated_lines(text: str, *, min_chars: int = 0) -> bool:
    """Whether the complete lines of `text` end in `LINE_COPIES` copies of one block of
    `LINE_PERIODS` lines (not all blank) whose code spans at least `min_chars`: the loop
    `remove_repetitive_lines` and `remove_repetitive_blocks` cut to its first copy.
    A table of short equal lines (`0,` three times) is no loop."""
    end = text.rfind("\n")
    if end < 0:
        return False
    lines = [line.rstrip() for line in text[:end].split("\n")]
    for period in LINE_PERIODS:
        span = period * LINE_COPIES
        if span > len(lines):
            break
        block = lines[-period:]
        if all(lines[len(lines) - span + i] == block[i % period] for i in range(span)):
            # The shortest block decides: `0,` six times is no two-line block of `0,`.
            code = sum(len(line.strip()) for line in block)
            return code > 0 and code * LINE_COPIES >= min_chars
    return False
