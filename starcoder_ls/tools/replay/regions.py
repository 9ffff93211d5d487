"""Which lines are retyped and when each key is pressed: pure and seeded, so that two runs
(and two servers compared in one table) see exactly the same typing."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LINE_CHARS = 100
"""Longer lines are rare in code and would dominate a region's keys."""


@dataclass(frozen=True, kw_only=True)
class Source:
    path: str
    """Relative path, shown in reports and used in the document's uri."""
    text: str


@dataclass(frozen=True, kw_only=True)
class Region:
    """Lines of a file the user retypes in place: the code after them is already there.

    The document opens as `before + after`, the cursor after the first line's indentation
    (where the editor puts it); typing `typed` at the cursor gives the file back.
    """

    path: str
    line: int
    """0-based line where the region starts."""
    before: str
    typed: str
    after: str

    @property
    def original(self) -> str:
        return self.before + self.typed + self.after


def _in_docstring(lines: Sequence[str]) -> list[bool]:
    """Lines that hold or sit inside a triple-quoted string: retyping prose measures
    nothing about code completion."""
    inside = False
    marks: list[bool] = []
    for line in lines:
        quotes = line.count('"""') + line.count("'''")
        marks.append(inside or quotes > 0)
        if quotes % 2:
            inside = not inside
    return marks


def candidate_starts(text: str, lines: int) -> list[int]:
    """First lines of windows of `lines` code lines: none blank, a comment, in a
    docstring or over `MAX_LINE_CHARS`."""
    rows = text.split("\n")
    docstring = _in_docstring(rows)

    def good(i: int) -> bool:
        row = rows[i]
        stripped = row.strip()
        return (
            bool(stripped)
            and not stripped.startswith("#")
            and not docstring[i]
            and len(row) <= MAX_LINE_CHARS
        )

    ok = [good(i) for i in range(len(rows))]
    return [i for i in range(len(rows) - lines + 1) if all(ok[i : i + lines])]


def make_region(source: Source, line: int, lines: int) -> Region:
    rows = source.text.split("\n")
    first = rows[line]
    indent = first[: len(first) - len(first.lstrip())]
    before = "".join(row + "\n" for row in rows[:line]) + indent
    typed = "\n".join([first[len(indent) :], *rows[line + 1 : line + lines]])
    rest = rows[line + lines :]
    after = "\n" + "\n".join(rest) if rest else ""
    return Region(path=source.path, line=line, before=before, typed=typed, after=after)


def choose_regions(sources: Sequence[Source], count: int, lines: int, seed: int) -> list[Region]:
    """`count` regions that do not overlap, drawn with `seed` over every candidate window
    of every source (so a larger file gives more of them), in file order."""
    candidates = [
        (index, start)
        for index, source in enumerate(sources)
        for start in candidate_starts(source.text, lines)
    ]
    rng = random.Random(seed)
    taken: list[tuple[int, int]] = []
    for index, start in rng.sample(candidates, len(candidates)):
        if len(taken) == count:
            break
        if all(i != index or abs(s - start) >= lines for i, s in taken):
            taken.append((index, start))
    return [make_region(sources[i], start, lines) for i, start in sorted(taken)]


@dataclass(frozen=True, kw_only=True)
class Typing:
    keys_per_second: float = 9.0
    pause: tuple[float, float] = (0.6, 1.2)
    """Seconds a thinking pause lasts, drawn uniformly."""
    pause_chance: float = 0.1
    """Chance of a pause at a word boundary; lines always end in one."""
    jitter: float = 0.35
    """Spread (sigma of a log-normal) of the intervals between keys around their mean."""


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """When keys are pressed, by offset into `Region.typed`.

    `delays[i]` is the wait before the key that starts at offset i, counted from the
    previous key; the last entry (offset len(typed)) is the wait after the region's
    last key. Offsets, not key numbers, so that after an accepted suggestion the user
    goes on with the timing of the text that follows it.
    """

    delays: tuple[float, ...]
    pauses: tuple[bool, ...]


def _word_boundary(typed: str, i: int) -> bool:
    return 0 < i < len(typed) and typed[i - 1] in " ,.([=:" and not typed[i].isspace()


def _line_start(typed: str, i: int) -> bool:
    """The first character of a line after the first: the user has pressed Enter and the
    editor indented; this is where the next line gets thought about."""
    newline = typed.rfind("\n", 0, i)
    return newline >= 0 and not typed[i].isspace() and not typed[newline + 1 : i].strip()


def make_schedule(typed: str, typing: Typing, rng: random.Random) -> Schedule:
    """Intervals around 1/keys_per_second, pauses at line starts, at the end, and at word
    boundaries by chance. Every offset draws the same numbers whether or not it pauses,
    so changing the chance moves pauses without reshuffling the other intervals."""
    mean = 1 / typing.keys_per_second
    sigma = typing.jitter
    mu = math.log(mean) - sigma * sigma / 2
    low, high = typing.pause
    delays: list[float] = []
    pauses: list[bool] = []
    for i in range(len(typed) + 1):
        interval = min(max(rng.lognormvariate(mu, sigma), mean / 3), mean * 3)
        chance = rng.random()
        thinking = rng.uniform(low, high)
        pause = i > 0 and (
            i == len(typed)
            or _line_start(typed, i)
            or (_word_boundary(typed, i) and chance < typing.pause_chance)
        )
        delays.append(thinking if pause else interval)
        pauses.append(pause)
    return Schedule(delays=tuple(delays), pauses=tuple(pauses))


def next_key(typed: str, pos: int) -> str:
    """The text one key press adds at `pos`: one character, except Enter, which the editor
    follows with the next line's indentation, and indentation itself, typed as one Tab."""
    if typed[pos] == "\n":
        end = pos + 1
        while end < len(typed) and typed[end] in " \t":
            end += 1
        return typed[pos:end]
    line_start = typed.rfind("\n", 0, pos) + 1
    if typed[pos] in " \t" and not typed[line_start:pos].strip():
        end = pos
        while end < len(typed) and typed[end] in " \t":
            end += 1
        return typed[pos:end]
    return typed[pos]
