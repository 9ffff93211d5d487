"""A completion that only writes what already follows the cursor adds nothing."""

from __future__ import annotations

from starcoder_ls.text.lines import following_non_blank_lines
from starcoder_ls.text.similarity import same_code
from starcoder_ls.text.types import CompletionContext, Mode


def drop_duplicated_suffix(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Drop a completion that repeats the rest of the line or the lines below.

    Models that see the suffix tend to copy it: `█x, y)` completed with `x`, or
    an empty line above `return x` completed with `return x;`. Accepting such a
    suggestion would only duplicate code, so it is not shown. A copy is the same
    tokens (see `similarity.same_code`): other spacing, a missing `;`, a trailing
    comma or comment still make a copy, but one changed name, number or operator
    makes a parallel line, which code is full of (`cell.fg = attr.fg;` above
    `cell.bg = attr.bg;`, `httpAddr  string` above `httpsAddr string`) and which
    is often exactly what the user is typing. Indentation is layout too, so a
    closer above the same closer (`}` above `}`) counts as a copy.
    """
    content = text.strip()
    if not content:
        return text
    language_id = ctx.language_id
    line_suffix = ctx.line_suffix.strip()
    repeats_line = line_suffix.startswith(content) or same_code(content, line_suffix, language_id)
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
    return None if same_code("\n".join(produced), "\n".join(existing), language_id) else text
