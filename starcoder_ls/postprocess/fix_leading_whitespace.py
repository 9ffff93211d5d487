"""Indentation the editor already typed must not be typed again by the completion."""

from __future__ import annotations

from starcoder_ls.text.types import CompletionContext, Mode

_BLANKS = " \t"


def fix_leading_whitespace(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Remove from the first line the whitespace that duplicates what is left of the cursor.

    A prompt ending in indentation makes models emit the indentation again,
    usually the whole of it, as one token from column 0. So on a blank cursor
    line the line prefix is removed from the completion's indentation when the
    latter starts with it, and all of it is removed otherwise. Later lines are
    left as they are: the model wrote them after a line break, so their
    indentation already counts from column 0 of the document. After text
    ending in a blank (`return █`), a single leading blank of the completion is
    the one typed already and goes; a longer run is alignment, in any language
    (`{NULL}  /* sentinel */`, `0,        /* tp_setattro */`), and stays.

    On an indented blank line a completion that opens with line breaks would
    leave the cursor line blank and start lower: the user already pressed
    Enter, so the first line with content moves up to the cursor line.
    """
    line_prefix = ctx.line_prefix
    if not line_prefix or line_prefix[-1] not in _BLANKS:
        return text
    if not line_prefix.strip(_BLANKS) and not ctx.line_suffix.strip():
        text = _from_first_content_line(text)
    first, newline, rest = text.partition("\n")
    body = first.lstrip(_BLANKS)
    lead = first[: len(first) - len(body)]
    if not lead:
        return text
    if not line_prefix.strip(_BLANKS):
        if lead.startswith(line_prefix):
            return lead[len(line_prefix) :] + body + newline + rest
        return body + newline + rest
    return text if len(lead) > 1 else body + newline + rest


def _from_first_content_line(text: str) -> str:
    start = 0
    while (end := text.find("\n", start)) >= 0 and not text[start:end].strip():
        start = end + 1
    return text[start:]
