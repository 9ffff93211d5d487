"""Single-line mode shows one line: everything after the first line break goes."""

from __future__ import annotations

import re

from starcoder_ls.text.literals import string_spans
from starcoder_ls.text.types import CompletionContext, Mode

_LINE_BREAK = re.compile(r"\r\n?|\n")


def limit_to_single_line(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Keep the first line of the completion.

    On a blank cursor line a model often starts with a line break (it would
    rather leave a blank line first); the first line with content is then what
    belongs on the cursor line, so leading blank lines are skipped there. On a
    line with text, a leading break means the model has nothing to add to this
    line, and the result is empty. A line that ends inside a string literal it
    opened (`\"\"\"Summary` of a docstring) is cut before that string: shown
    alone, it would leave the rest of the file inside a string.
    """
    if mode is not Mode.SINGLE_LINE:
        return text
    lines = _LINE_BREAK.split(text)
    if len(lines) == 1:
        return text
    if not (ctx.line_prefix + ctx.line_suffix).strip():
        first = next((line for line in lines if line.strip()), "")
        text = text[text.index(first) :] if first else ""
    else:
        first = lines[0]
    return _before_open_string(text, first, ctx)


def _before_open_string(text: str, line: str, ctx: CompletionContext) -> str:
    normalized = _LINE_BREAK.sub("\n", text)
    for start, end in string_spans(normalized, ctx):
        if 0 <= start < len(line) < end:
            return line[:start].rstrip()
    return line
