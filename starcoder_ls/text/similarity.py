"""Whether two pieces of code are the same code, or only look alike.

`same_code` asks whether one is a copy of the other: the same tokens, whatever
the layout. `nearly_equal` asks whether they are a few characters apart, which
parallel lines also are (`cell.fg = attr.fg;` above `cell.bg = attr.bg;`), so
it must not be taken to mean a copy.
"""

from __future__ import annotations

import re

from starcoder_ls.text.literals import comment_spans

_TOKEN = re.compile(r"\w+|\S")
"""A word (name, keyword, number) or one other visible character: spacing between
operators is layout, spacing between two words is not (`ab` is not `a b`)."""

_SEPARATORS = frozenset(";,")
"""Line endings that a formatter or the next keystroke adds or removes."""


def same_code(first: str, second: str, language_id: str) -> bool:
    """Whether the two texts are the same tokens, apart from layout and an added comment.

    Layout is whitespace, line breaks, and a line's final `;` or `,`. A comment
    after code that only one text has is not code (`return x;  // done` is
    `return x`), but two different ones tell lines apart (`0,  /* tp_setattro */`
    is not `0,  /* tp_as_buffer */`); a line that is only a comment compares by its
    words. Any changed name, number or operator makes another line: `httpAddr  string`
    is not `httpsAddr string`.
    """
    first_code, first_notes = _tokens(first, language_id)
    second_code, second_notes = _tokens(second, language_id)
    if first_code != second_code:
        return False
    return not first_notes or not second_notes or first_notes == second_notes


def code_tokens(text: str, language_id: str) -> list[str]:
    """The tokens `same_code` compares, line after line, without comments after code."""
    return _tokens(text, language_id)[0]


def _tokens(text: str, language_id: str) -> tuple[list[str], list[str]]:
    """The code's tokens and those of the comments that follow code on a line."""
    code = text
    for low, high in comment_spans(text, language_id):
        code = code[:low] + re.sub(r"[^\n]", " ", code[low:high]) + code[high:]
    tokens: list[str] = []
    notes: list[str] = []
    for line, line_code in zip(text.split("\n"), code.split("\n"), strict=True):
        words = _TOKEN.findall(line_code)
        if words:
            comment = (
                kept if kept != shown else " " for kept, shown in zip(line, line_code, strict=True)
            )
            notes.extend(_TOKEN.findall("".join(comment)))
        else:
            words = _TOKEN.findall(line)
        while words and words[-1] in _SEPARATORS:
            words.pop()
        tokens.extend(words)
    return tokens, notes


MAX_DIFFERENCE = 0.1
"""Edits allowed per character of the longer text: `foo(a, b)` and `foo(a, b);` are one code."""


def nearly_equal(first: str, second: str) -> bool:
    """Compare by edit distance relative to the longer text, without layout.

    Whitespace and a line's final `;` or `,` are layout that a formatter or
    the next keystroke changes; a changed name or number in a short line is
    more than a tenth of it and keeps the texts apart.
    """
    first, second = _code(first), _code(second)
    if first == second:
        return True
    budget = int(MAX_DIFFERENCE * max(len(first), len(second)))
    return budget > 0 and _distance_within(first, second, budget)


def _code(text: str) -> str:
    return "".join("".join(line.split()).rstrip(";,") for line in text.split("\n"))


def _distance_within(first: str, second: str, budget: int) -> bool:
    """Levenshtein distance <= budget, computing only the diagonal band that can stay within it.

    The band keeps a comparison of two 2,000-character texts at a few thousand
    steps instead of four million.
    """
    if abs(len(first) - len(second)) > budget:
        return False
    over = budget + 1
    previous = {column: column for column in range(min(len(second), budget) + 1)}
    for row in range(1, len(first) + 1):
        low, high = max(0, row - budget), min(len(second), row + budget)
        current: dict[int, int] = {}
        for column in range(low, high + 1):
            if column == 0:
                current[column] = row
                continue
            cost = first[row - 1] != second[column - 1]
            current[column] = min(
                previous.get(column - 1, over) + cost,
                previous.get(column, over) + 1,
                current.get(column - 1, over) + 1,
            )
        if min(current.values()) > budget:
            return False
        previous = current
    return previous.get(len(second), over) <= budget
