"""Completing over the item selected in the editor's popup (`selectedCompletionInfo`).

The LSP asks an inline suggestion to extend the selected item, so the request is
answered as if that item were already inserted (`apply_selected`), and each suggestion
is then mapped back onto the line as the editor still has it (`over_selection`). The two
are inverses and live side by side so that they change together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from starcoder_ls.text.types import CompletionContext, Suggestion


@dataclass(frozen=True, kw_only=True)
class Selected:
    """The selected popup item: it would replace [start, end) of the cursor line by `text`.

    Offsets are string indices into the cursor line, like `CompletionContext.character`.
    """

    text: str
    start: int
    end: int


def apply_selected(ctx: CompletionContext, sel: Selected) -> CompletionContext:
    """The context as if the selected popup item were already inserted."""
    line_start = len(ctx.prefix) - ctx.character
    prefix = ctx.prefix[: line_start + sel.start] + sel.text
    suffix = ctx.suffix[max(sel.end - ctx.character, 0) :]
    return dataclasses.replace(
        ctx, prefix=prefix, suffix=suffix, character=sel.start + len(sel.text)
    )


def over_selection(suggestion: Suggestion, sel: Selected) -> Suggestion:
    """A suggestion made in `apply_selected`'s context, as an edit of the line on screen:
    it replaces the selection's range by the item's text followed by the suggestion."""
    start = sel.start + len(sel.text)
    return Suggestion(
        text=sel.text + suggestion.text,
        character=sel.start,
        end_character=sel.end + (suggestion.end_character - start),
    )
