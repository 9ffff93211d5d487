"""Turns raw model text into the suggestion shown in the editor, through small named filters.

Each filter is `(text, ctx, mode) -> str | None` and returns None to drop the
completion. To add one, write it in its own module and insert it in `FILTERS`
where its input is what it expects (see the comments on the order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from starcoder_ls.postprocess.balance_brackets import balance_brackets
from starcoder_ls.postprocess.drop_duplicated_suffix import drop_duplicated_suffix
from starcoder_ls.postprocess.drop_too_short import drop_too_short
from starcoder_ls.postprocess.fix_leading_whitespace import fix_leading_whitespace
from starcoder_ls.postprocess.limit_scope_by_indentation import (
    block_exit_stops,
    limit_scope_by_indentation,
)
from starcoder_ls.postprocess.limit_to_single_line import limit_to_single_line
from starcoder_ls.postprocess.normalize_indentation import normalize_indentation
from starcoder_ls.postprocess.remove_repetitive_blocks import remove_repetitive_blocks
from starcoder_ls.postprocess.remove_repetitive_lines import remove_repetitive_lines
from starcoder_ls.postprocess.trim_suffix_overlap import trim_suffix_overlap
from starcoder_ls.postprocess.trim_trailing_whitespace import trim_trailing_whitespace
from starcoder_ls.text.closing import replaced_suffix_length
from starcoder_ls.text.types import CompletionContext, Mode, Suggestion

Filter = Callable[[str, CompletionContext, Mode], str | None]
StopRule = Callable[[CompletionContext, Mode, bool], tuple[str, ...]]
"""`(ctx, mode, sees_suffix) -> stop strings`: where the engine may stop because its filter
would cut there anyway; `sees_suffix` says whether the prompt shows the text after the
cursor."""

_log = logging.getLogger(__name__)

FILTERS: list[Filter] = [
    # Shape first, so every later filter judges only what will be shown.
    limit_to_single_line,
    # Indentation next, in the document's own terms: the scope filter and the
    # comparisons with the document below measure lines as they will be inserted.
    fix_leading_whitespace,
    normalize_indentation,
    # Cut what the user did not ask for: code past the cursor's block, then
    # loops inside it (the scope cut removes most loops of whole functions).
    limit_scope_by_indentation,
    remove_repetitive_lines,
    remove_repetitive_blocks,
    trim_trailing_whitespace,
    # Judge the whole completion before trimming it: a pure repeat is dropped
    # rather than trimmed into a fragment.
    drop_duplicated_suffix,
    trim_suffix_overlap,
    # Brackets last among the edits: every cut above may have moved the end.
    balance_brackets,
    # Last: any filter above may have left nothing worth showing.
    drop_too_short,
]


ENGINE_STOPS: dict[Filter, StopRule] = {
    limit_scope_by_indentation: block_exit_stops,
}
"""Stops that anticipate a filter's cut, so generation ends where the filter would cut."""


def engine_stops(
    ctx: CompletionContext, mode: Mode, *, sees_suffix: bool, skip: Collection[str] = ()
) -> tuple[str, ...]:
    """The stop strings of every filter of the pipeline in `ENGINE_STOPS` but those named
    in `skip`: a disabled filter cuts nothing, so stopping early for it would change the
    answer."""
    stops: dict[str, None] = {}  # ordered and without repeats, in linear time
    for step in FILTERS:
        rule = ENGINE_STOPS.get(step)
        if rule is not None and step.__name__ not in skip:
            stops.update(dict.fromkeys(rule(ctx, mode, sees_suffix)))
    return tuple(stops)


def run(
    text: str, ctx: CompletionContext, mode: Mode, *, skip: Collection[str] = ()
) -> Suggestion | None:
    """Apply `FILTERS` in order, but those named in `skip`; None when nothing should show.

    The suggestion's range covers auto-closed characters right of the cursor
    that the text reproduces, so the editor replaces them instead of showing
    `print(x))`.
    """
    if mode is Mode.SKIP:
        return None
    for step in FILTERS:
        if step.__name__ in skip:
            continue
        result = step(text, ctx, mode)
        if result is None:
            _log.debug("postprocess: %s dropped the completion", step.__name__)
            return None
        text = result
    covered = replaced_suffix_length(text, ctx)
    return Suggestion(text=text, character=ctx.character, end_character=ctx.character + covered)
