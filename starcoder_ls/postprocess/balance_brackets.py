"""A one-line completion must not close brackets that nothing opened."""

from __future__ import annotations

from starcoder_ls.text.brackets import first_unmatched_closer
from starcoder_ls.text.closing import is_auto_closed_only
from starcoder_ls.text.types import CompletionContext, Mode


def balance_brackets(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Cut a one-line completion before its first closer that matches no open bracket.

    Models close one bracket too many (`print(█)` → `x))`) or the wrong kind
    (`[f(█)]` → `a]`); shown as is, the line ends up with a stray `)` or `])]`.
    What is open comes from the lines before the cursor, so closing a call
    begun lines above is kept. The auto-closed characters right of the cursor
    are left to the suggestion's range (`closing.replaced_suffix_length`),
    which replaces the ones the completion writes again.
    """
    if "\n" in text:
        return text
    line_suffix = ctx.line_suffix
    if line_suffix.strip() and not is_auto_closed_only(line_suffix):
        return text
    unmatched = first_unmatched_closer(text, ctx)
    return text if unmatched is None else text[:unmatched].rstrip()
