"""Lines below a line end: what a one-line request shows when its text starts on the next
line.

A one-line call ends at its first line break, so its own text never starts with one. Text
that does comes from a line ahead (`nextLineAhead`, inflight.py) or from the rest of a
multi-line suggestion typed as far as a line end (typed-ahead reuse): at the end of a
line with text, the next line the model wrote. Copilot shows such a line below the cursor.
It is post-processed where it will stand, as the request after Enter would post-process
it (the cursor after the line break and the indentation, that request's mode), and
shown with its line break in front.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from starcoder_ls import postprocess
from starcoder_ls.completion import trigger
from starcoder_ls.text.types import CompletionContext, Mode, Suggestion


def starts_below(text: str, ctx: CompletionContext, mode: Mode) -> bool:
    """Whether `text` for a one-line request at the end of a line with text starts on
    a later line."""
    at_line_end = bool(ctx.line_prefix.strip()) and not ctx.line_suffix
    return mode is Mode.SINGLE_LINE and at_line_end and text[:1] in ("\n", "\r")


def below(
    text: str, ctx: CompletionContext, *, multiline: str, skip: Collection[str] = ()
) -> Suggestion | None:
    """`text` (`starts_below`) post-processed at the line it starts, with its line break
    and indentation in front; None when nothing should show there."""
    body = text.lstrip(" \t\r\n")
    lead = text[: len(text) - len(body)]
    if not body:
        return None
    last_line = lead[lead.rfind("\n") + 1 :]
    there = dataclasses.replace(
        ctx,
        prefix=ctx.prefix + lead,
        line=ctx.line + lead.count("\n"),
        character=len(last_line),
    )
    mode = trigger.decide(there, multiline=multiline)
    shown = postprocess.run(body, there, mode, skip=skip)
    if shown is None or shown.end_character != shown.character:
        return None
    return Suggestion(text=lead + shown.text, character=ctx.character, end_character=ctx.character)
