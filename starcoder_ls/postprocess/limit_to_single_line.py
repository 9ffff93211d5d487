"""Single-line mode shows one line: everything after the first line break goes."""

from __future__ import annotations

import re

from starcoder_ls.types import CompletionContext, Mode

_LINE_BREAK = re.compile(r"\r\n?|\n")


def limit_to_single_line(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Keep the first line of the completion.

    On a blank cursor line a model often starts with a line break (it would
    rather leave a blank line first); the first line with content is then what
    belongs on the cursor line, so leading blank lines are skipped there. On a
    line with text, a leading break means the model has nothing to add to this
    line, and the result is empty.
    """
    if mode is not Mode.SINGLE_LINE:
        return text
    lines = _LINE_BREAK.split(text)
    if not (ctx.line_prefix + ctx.line_suffix).strip():
        return next((line for line in lines if line.strip()), "")
    return lines[0]
