"""Trailing blanks and line breaks at the end of a completion only add noise."""

from __future__ import annotations

from starcoder_ls.text.closing import is_auto_closed_only
from starcoder_ls.text.types import CompletionContext, Mode


def trim_trailing_whitespace(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Strip whitespace at the end unless the text right of the cursor needs it as a separator.

    Before real text (`x = █+ 1`) the model's final blank keeps `a + 1` apart; at
    the end of a line or before auto-closed characters it would leave a trailing
    space or an extra blank line in the document.
    """
    line_suffix = ctx.line_suffix
    if line_suffix.strip() and not is_auto_closed_only(line_suffix):
        return text
    return text.rstrip()
