"""Fit the text around the cursor, and optionally other files, into the model's window.

Tokens are counted with the model's own tokenizer, which is the only honest
measure but is not free: a whole multi-megabyte file is never counted. Each cut
grows a window outward from the cursor until it holds more than the budget, then
searches the line boundaries inside it, so a prompt costs about ten counts of
text no longer than a few times the budget.

The far ends move in steps, not line by line: an engine that keeps the previous
prompt's KV cache reuses it only up to the first token that differs, and a head
that shifted by one line on every keystroke would differ at the very start.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from starcoder_ls.engine.fim import FimTemplate

CountTokens = Callable[[str], int]
Encode = Callable[[str], Sequence[int]]

_CHARS_PER_TOKEN_GUESS = 4
"""Starting window width per token; code averages 3-4 characters a token, and the
window grows when a tokenizer packs more."""
_SLOW_PROBES = 3
"""Aimed probes in a row that fail to halve the search before falling back to bisection."""
_MAX_SNIPPET_CHARS_PER_TOKEN = 64
_CUT_STEPS_PER_BUDGET = 16
"""Far-end cuts snap to a grid of about 1/16 of the budget: at most that much of the
budget goes unused, and typing moves the prompt's head about once per 1/16 of it."""
"""A snippet longer than this many characters per remaining token cannot fit in any
tokenizer we know, so it is skipped without the cost of counting it."""


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """What the model was shown, so that logs and post-processing can tell what was cut."""

    text: str
    """What goes to the model."""
    prefix: str
    """The (possibly cut) prefix used."""
    suffix: str
    """The (possibly cut) suffix used; empty when the prompt is prefix-only."""
    context: str
    """Cross-file context used; empty if none."""
    tokens: int
    """Token count of `text`, as counted by the `count_tokens` given."""
    ids: tuple[int, ...] | None = None
    """`text`'s token ids when `build_prompt` was given `encode`, so the engine need not
    tokenize it again."""


def build_prompt(
    *,
    prefix: str,
    suffix: str,
    template: FimTemplate,
    count_tokens: CountTokens,
    context_window: int,
    max_new_tokens: int,
    prefix_share: float = 0.75,
    filename: str | None = None,
    snippets: Sequence[tuple[str, str]] = (),
    use_fim: bool = True,
    snippet_reserve: int = 0,
    cut_step: int | None = None,
    encode: Encode | None = None,
) -> Prompt:
    """The richest prompt whose token count leaves `max_new_tokens` free in the window.

    The lines nearest the cursor matter most, so the far ends are cut first: the
    start of the prefix and the end of the suffix, at line boundaries. Other files
    (`snippets`, taken in the order given) fill what the current file leaves free, and may
    take up to `snippet_reserve` tokens from it first: in a long file nothing is left
    free, and a definition from another file can matter more than the file's far end.

    A far end is cut only at the first line boundary after a multiple of `cut_step`
    characters, counted from the document's start (prefix) or end (suffix), so that
    typing at the cursor or moving it down a line leaves the cuts where they were. By
    default the step is a sixteenth of the budget; 0 cuts at any line that fits.

    With `encode` (the engine's tokenizer), whole prompts are encoded rather than
    counted, and the final one's ids are returned on the `Prompt`.
    """
    budget = context_window - max_new_tokens
    if budget <= 0:
        raise ValueError(
            f"no room for a prompt: context_window ({context_window}) must be larger than "
            f"max_new_tokens ({max_new_tokens})"
        )
    if not 0.0 <= prefix_share <= 1.0:
        raise ValueError(f"prefix_share must be between 0 and 1, got {prefix_share}")

    fim = template.fim and use_fim
    name = filename if template.supports_filename else None

    def render(p: str, s: str, ctx: str) -> str:
        if fim:
            return template.render(p, s, filename=name, context=ctx)
        return template.render_prefix_only(p, filename=name, context=ctx)

    overhead = count_tokens(render("", "", ""))
    available = budget - overhead
    if available < 0:
        raise ValueError(
            f"the {template.name} template alone takes {overhead} tokens, more than the "
            f"{budget} left for the prompt (context_window {context_window} - "
            f"max_new_tokens {max_new_tokens})"
        )

    ids: tuple[int, ...] | None = None

    def measure(text: str) -> int:
        nonlocal ids
        if encode is None:
            return count_tokens(text)
        ids = tuple(encode(text))
        return len(ids)

    if not fim:
        suffix = ""
    reserved: dict[int, str] = {}
    if snippets and snippet_reserve > 0:
        reserved = _fit_snippets(template, snippets, min(snippet_reserve, available), count_tokens)
    # Counted in place: some families add a file separator once other files come first.
    taken = count_tokens(render("", "", "".join(reserved.values()))) - overhead if reserved else 0
    step = (
        budget * _CHARS_PER_TOKEN_GUESS // _CUT_STEPS_PER_BUDGET if cut_step is None else cut_step
    )
    kept_prefix, kept_suffix = _split_budget(
        prefix, suffix, available - taken, prefix_share, count_tokens, step
    )

    chosen = list(reserved.values())
    text = render(kept_prefix.text, kept_suffix.text, "".join(chosen))
    tokens = measure(text)
    # Room a stepped cut leaves is kept free: snippets moving in and out of it as the
    # user types would change the prompt's head, the part a KV cache reuses.
    stepped_cut = step > 1 and not (kept_prefix.whole and kept_suffix.whole)
    if len(reserved) < len(snippets) and tokens < budget and not stepped_cut:
        more = _fit_snippets(template, snippets, budget - tokens, count_tokens, skip=reserved)
        if more:
            chosen = [formatted for _, formatted in sorted({**reserved, **more}.items())]
            text = render(kept_prefix.text, kept_suffix.text, "".join(chosen))
            tokens = measure(text)

    # The parts were counted one by one; merges across their seams can differ.
    while tokens > budget:
        over = tokens - budget
        if chosen:
            chosen.pop()
        elif kept_prefix.text and (
            kept_prefix.tokens >= kept_suffix.tokens or not kept_suffix.text
        ):
            kept_prefix = _keep_tail(kept_prefix.text, kept_prefix.tokens - over, count_tokens)
        elif kept_suffix.text:
            kept_suffix = _keep_head(kept_suffix.text, kept_suffix.tokens - over, count_tokens)
        else:
            raise ValueError(f"count_tokens is inconsistent: {overhead} then {tokens} tokens")
        text = render(kept_prefix.text, kept_suffix.text, "".join(chosen))
        tokens = measure(text)

    return Prompt(
        text=text,
        prefix=kept_prefix.text,
        suffix=kept_suffix.text,
        context="".join(chosen),
        tokens=tokens,
        ids=ids,
    )


@dataclass(frozen=True)
class _Kept:
    text: str
    tokens: int
    whole: bool
    """True when nothing had to be cut."""


def _split_budget(
    prefix: str, suffix: str, available: int, share: float, count: CountTokens, step: int
) -> tuple[_Kept, _Kept]:
    """Give each side its share, and what one side leaves unused to the other."""
    prefix_cap = int(available * share)
    suffix_cap = available - prefix_cap
    kept_prefix = _keep_tail(prefix, prefix_cap, count, step)
    if kept_prefix.whole:
        return kept_prefix, _keep_head(suffix, available - kept_prefix.tokens, count, step)
    kept_suffix = _keep_head(suffix, suffix_cap, count, step)
    if kept_suffix.whole and kept_suffix.tokens < suffix_cap:
        kept_prefix = _keep_tail(prefix, available - kept_suffix.tokens, count, step)
    return kept_prefix, kept_suffix


def _fit_snippets(
    template: FimTemplate,
    snippets: Sequence[tuple[str, str]],
    room: int,
    count: CountTokens,
    skip: Collection[int] = (),
) -> dict[int, str]:
    """Whole snippets by index, in the order given; one that does not fit is skipped, not cut."""
    chosen: dict[int, str] = {}
    for index, (path, body) in enumerate(snippets):
        if room <= 0:
            break
        if index in skip:
            continue
        formatted = template.format_snippet(path, body)
        if len(formatted) > room * _MAX_SNIPPET_CHARS_PER_TOKEN:
            continue
        cost = count(formatted)
        if cost <= room:
            chosen[index] = formatted
            room -= cost
    return chosen


def _keep_tail(text: str, limit: int, count: CountTokens, step: int = 0) -> _Kept:
    """The most of the end of `text` within `limit` tokens, starting at a line start."""
    return _keep(text, limit, count, step, from_end=True)


def _keep_head(text: str, limit: int, count: CountTokens, step: int = 0) -> _Kept:
    """The most of the start of `text` within `limit` tokens, ending at a line end."""
    return _keep(text, limit, count, step, from_end=False)


def _keep(text: str, limit: int, count: CountTokens, step: int, *, from_end: bool) -> _Kept:
    """Cut the end of `text` far from the cursor, at a line boundary when one fits.

    A cut is a string index: `text[cut:]` is kept when `from_end`, else `text[:cut]`.
    With a `step`, only the first line boundary of each step from the far end is a
    candidate (`_first_per_step`); any line boundary is when none of those fits. When
    even the line nearest the cursor is too long (minified code) it is cut by
    characters, so that the text right at the cursor still reaches the model.
    """
    if not text:
        return _Kept("", 0, True)
    if limit <= 0:
        return _Kept("", 0, False)
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
    window = max(limit * _CHARS_PER_TOKEN_GUESS, 64)
    while window < n and tokens(cut_keeping(window)) <= limit:
        window *= 2
    if window >= n:
        if tokens(cut_keeping(n)) <= limit:
            return _Kept(text, counted[cut_keeping(n)], True)
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
        return _Kept("", 0, False)
    return _Kept(text[found:] if from_end else text[:found], counted[found], False)


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
