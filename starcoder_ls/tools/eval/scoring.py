"""Comparing an answer with what the hole held: exact match, edit similarity, means.

Kept free of I/O so that every number in a report can be checked by a unit test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from starcoder_ls.tools.eval.tasks import Task


@dataclass(frozen=True, kw_only=True)
class Edit:
    """An answer as the editor would apply it: `text` replaces [start, end) of the document.

    `end` > `start` when the server chose to replace auto-closed characters after the
    cursor; both are indices into the task's document text.
    """

    text: str
    start: int
    end: int

    @property
    def empty(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The server's first suggestion for a task, as an edit, and what it cost."""

    edit: Edit
    latency_ms: float
    """Wall time of the inlineCompletion request, from sending it to its response."""
    error: str = ""


def apply(task: Task, edit: Edit) -> str:
    """The document after accepting the edit."""
    return task.text[: edit.start] + edit.text + task.text[edit.end :]


def compared(task: Task, edit: Edit) -> tuple[str, str]:
    """(what was inserted, what should have been) over the same stretch of the document.

    Both documents end with `text[edit.end:]`; what precedes it from the cursor on is the
    answer in one and, in the other, the hole's content plus any characters the edit
    replaced. Comparing those keeps a replaced `)` from counting as an error.
    """
    return edit.text, task.expected + task.text[edit.start : edit.end]


def normalise(code: str) -> str:
    """Trailing blanks and blank lines at either end do not change what code does."""
    lines = [line.rstrip() for line in code.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def exact_match(answer: str, expected: str) -> bool:
    return normalise(answer) == normalise(expected)


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions to turn `a` into `b` (two-row dynamic program)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(answer: str, expected: str) -> float:
    """1 - Levenshtein distance / length of the longer string: 1.0 is identical, 0.0 nothing
    in common. Both empty counts as identical."""
    longest = max(len(answer), len(expected))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(answer, expected) / longest


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan
