"""A completion that only writes what already follows the cursor adds nothing."""

from __future__ import annotations

from starcoder_ls.text.lines import following_non_blank_lines
from starcoder_ls.text.similarity import nearly_equal
from starcoder_ls.types import CompletionContext, Mode


def drop_duplicated_suffix(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Drop a completion that (nearly) repeats the rest of the line or the lines below.

    Models that see the suffix tend to copy it: `█x, y)` completed with `x`, or
    an empty line above `return x` completed with `return x;`. Accepting such a
    suggestion would only duplicate code, so it is not shown. "Nearly" is an
    edit distance on the text without whitespace (see `similarity`), so a copy
    with other spacing, a missing `;` or a trailing comma counts as a copy.
    """
    content = text.strip()
    if not content:
        return text
    line_suffix = ctx.line_suffix.strip()
    repeats_line = line_suffix.startswith(content) or nearly_equal(content, line_suffix)
    if "\n" not in content and line_suffix and repeats_line:
        return None
    produced = [
        line.strip()
        for line in (ctx.line_prefix + text + ctx.line_suffix).split("\n")
        if line.strip()
    ]
    existing = following_non_blank_lines(ctx, len(produced))
    if len(existing) < len(produced):
        return text
    return None if nearly_equal("\n".join(produced), "\n".join(existing)) else text
