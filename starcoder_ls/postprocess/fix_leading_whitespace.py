"""Indentation the editor already typed must not be typed again by the completion."""

from __future__ import annotations

from starcoder_ls.types import CompletionContext, Mode

_BLANKS = " \t"


def fix_leading_whitespace(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Remove from the first line the whitespace that duplicates what is left of the cursor.

    A prompt ending in indentation makes models emit the indentation again,
    usually the whole of it, as one token from column 0. So on a blank cursor
    line the line prefix is removed from the completion's indentation when the
    latter starts with it, and all of it is removed otherwise. When that moves
    the first line right of where the model put it, the later lines move by the
    same amount so that the nesting between them survives. After text ending in
    a blank (`return █`), leading blanks of the completion are dropped.
    """
    line_prefix = ctx.line_prefix
    if not line_prefix or line_prefix[-1] not in _BLANKS:
        return text
    first, newline, rest = text.partition("\n")
    body = first.lstrip(_BLANKS)
    lead = first[: len(first) - len(body)]
    if not lead:
        return text
    if line_prefix.strip(_BLANKS):
        return body + newline + rest
    if lead.startswith(line_prefix):
        return lead[len(line_prefix) :] + body + newline + rest
    shift = line_prefix[len(lead) :] if line_prefix.startswith(lead) else ""
    return body + newline + _indent(rest, shift)


def _indent(text: str, shift: str) -> str:
    if not shift:
        return text
    return "\n".join(shift + line if line.strip() else line for line in text.split("\n"))
