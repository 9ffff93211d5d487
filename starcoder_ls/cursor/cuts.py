"""Cut text at a line boundary so that it fits a token limit, counting as little as possible.

Tokens are counted with the model's own tokenizer, which is the only honest
measure but is not free: a whole multi-megabyte file is never counted. Each cut
grows a window outward from the cursor until it holds more than the limit, then
searches the line boundaries inside it, so a cut costs a few counts of text no
longer than a few times the limit.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CountTokens = Callable[[str], int]

CHARS_PER_TOKEN_GUESS = 4
"""Starting window width per token; code averages 3-4 characters a token, and the
window grows when a tokenizer packs more."""
_SLOW_PROBES = 3
"""Aimed probes in a row that fail to halve the search before falling back to bisection."""


@dataclass(frozen=True)
class Kept:
    """What a cut keeps of one side of the cursor."""

    text: str
    tokens: int
    whole: bool
    """True when nothing had to be cut."""


def keep_tail(text: str, limit: int, count: CountTokens, step: int = 0) -> Kept:
    """The most of the end of `text` within `limit` tokens, starting at a line start."""
    return _keep(text, limit, count, step, from_end=True)


def keep_head(text: str, limit: int, count: CountTokens, step: int = 0) -> Kept:
    """The most of the start of `text` within `limit` tokens, ending at a line end."""
    return _keep(text, limit, count, step, from_end=False)


def _keep(text: str, limit: int, count: CountTokens, step: int, *, from_end: bool) -> Kept:
    """Cut the end of `text` far from the cursor, at a line boundary when one fits.

    A cut is a string index: `text[cut:]` is kept when `from_end`, else `text[:cut]`.
    With a `step`, only the first line boundary of each step from the far end is a
    candidate (`_first_per_step`); any line boundary is when none of those fits. When
    even the line nearest the cursor is too long (minified code) it is cut by
    characters, so that the text right at the cursor still reaches the model.
    """
    if not text:
        return Kept("", 0, True)
    if limit <= 0:
        return Kept("", 0, False)
    n = len(text)
    counted: dict[int, int] = {}

    def size(cut: int) -> int:
        return n - cut if from_end else cut

    def cut_keeping(chars: int) -> int:
        return n - chars if from_end else chars

    def tokens(cut: int) -> int:
        if cut not in counted:
            counted[cut] = count(text[cut:] if from_end else text[:cut])
        return counted[cut]

    # Grow a window from the cursor until it holds more than `limit` tokens.
    window = max(limit * CHARS_PER_TOKEN_GUESS, 64)
    while window < n and tokens(cut_keeping(window)) <= limit:
        window *= 2
    if window >= n:
        if tokens(cut_keeping(n)) <= limit:
            return Kept(text, counted[cut_keeping(n)], True)
        window = n
    over = cut_keeping(window)
    if from_end:
        line_cuts: Sequence[int] = [i + 1 for i in _newlines(text, over, n)]
    else:
        line_cuts = [i + 1 for i in reversed(_newlines(text, 0, over - 1))]
    found = None
    if step > 1:
        stepped = _first_per_step(text, line_cuts, step, from_end=from_end)
        found, _ = _first_fitting(stepped, size, tokens, limit, over)
    if found is None:
        found, over = _first_fitting(line_cuts, size, tokens, limit, over)
    if found is None:
        char_cuts = range(over + 1, n + 1) if from_end else range(over - 1, -1, -1)
        found, over = _first_fitting(char_cuts, size, tokens, limit, over)
    if found is None:
        return Kept("", 0, False)
    return Kept(text[found:] if from_end else text[:found], counted[found], False)


def _first_per_step(text: str, cuts: Sequence[int], step: int, *, from_end: bool) -> list[int]:
    """Of the line `cuts` (ordered from the far end toward the cursor), the first in each
    run of `step` characters counted from the far end of `text`.

    Which cuts qualify depends only on the text between each one and the far end, so
    edits nearer the cursor leave them, and the cut chosen among them, where they were.
    """
    if not cuts:
        return []
    n = len(text)

    def step_of(cut: int) -> int:
        return (cut if from_end else n - cut) // step

    if from_end:
        farther = text.rfind("\n", 0, cuts[0] - 1) + 1
    else:
        line_end = text.find("\n", cuts[0])
        farther = n if line_end < 0 else line_end + 1
    chosen: list[int] = []
    previous = step_of(farther)
    for cut in cuts:
        current = step_of(cut)
        if current != previous:
            chosen.append(cut)
        previous = current
    return chosen


def _first_fitting(
    cuts: Sequence[int],
    size: Callable[[int], int],
    tokens: Callable[[int], int],
    limit: int,
    over: int,
) -> tuple[int | None, int]:
    """The cut keeping the most text within `limit`, and the nearest cut known to exceed it.

    `cuts` keep less and less text; `over` keeps more than any of them and is over
    the limit. Token counts are close to proportional to length, so each probe is
    aimed where the two nearest counts say the limit falls. That usually lands within
    a line of the answer; bisection takes over after a few probes that do not halve
    the interval, so odd text costs at most a few counts more than a binary search.
    """
    lo, hi = -1, len(cuts)
    lo_size, lo_tokens = size(over), tokens(over)
    hi_size, hi_tokens = 0, 0
    slow = 0
    while hi - lo > 1:
        if slow >= _SLOW_PROBES or lo_tokens <= hi_tokens:
            mid = (lo + hi) // 2
        else:
            target = hi_size + (limit - hi_tokens) * (lo_size - hi_size) / (lo_tokens - hi_tokens)
            mid = bisect.bisect_left(cuts, -target, lo + 1, hi - 1, key=lambda cut: -size(cut))
        width = hi - lo
        probe = tokens(cuts[mid])
        if probe <= limit:
            hi, hi_size, hi_tokens = mid, size(cuts[mid]), probe
        else:
            lo, lo_size, lo_tokens, over = mid, size(cuts[mid]), probe, cuts[mid]
        slow = slow + 1 if (hi - lo) * 2 > width else 0
    return (cuts[hi] if hi < len(cuts) else None), over


def _newlines(text: str, start: int, end: int) -> list[int]:
    """Indices of the newlines in `text[start:end]`."""
    found: list[int] = []
    i = text.find("\n", start, end)
    while i >= 0:
        found.append(i)
        i = text.find("\n", i + 1, end)
    return found
