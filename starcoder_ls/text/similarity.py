"""Whether two pieces of code are the same up to formatting and a few characters."""

from __future__ import annotations

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
