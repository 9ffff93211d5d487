"""Write the completion's indentation the way the document does: tabs or spaces, same width."""

from __future__ import annotations

from collections.abc import Callable

from starcoder_ls.text.lines import (
    EVIDENCE_CHARS,
    cursor_line_indentation,
    indentation,
    shows_indent_unit,
)
from starcoder_ls.text.literals import inside_string, string_spans
from starcoder_ls.text.types import CompletionContext, Mode


def normalize_indentation(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Re-indent the lines after the first in the document's indentation unit.

    Models write the indentation they saw most in training (four spaces) when
    the prompt shows little of the document's, so a tab-indented file or a
    two-space one gets lines that the editor would show misaligned and linters
    reject. The model's unit is read from the steps between its own lines; a
    remainder that is not a whole number of steps is alignment and is kept.
    Lines that start inside a string literal are content, not indentation.
    The first line starts at the cursor and is left to `fix_leading_whitespace`.
    """
    lines = text.split("\n")
    if len(lines) < 2 or not shows_indent_unit(ctx):
        return text
    spans = string_spans(text, ctx)
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    movable = [
        number
        for number in range(1, len(lines))
        if lines[number].strip() and not inside_string(spans, starts[number])
    ]
    if ctx.indent_unit == "\t":
        reindent = _to_tabs([lines[number] for number in movable])
    else:
        reindent = _to_spaces([lines[number] for number in movable], ctx)
    for number in movable:
        lines[number] = reindent(indentation(lines[number])) + lines[number].lstrip(" \t")
    return "\n".join(lines)


def _to_tabs(lines: list[str]) -> Callable[[str], str]:
    """Spaces after any leading tabs become tabs, one per four: what models write for a level.

    Fewer spaces after a tab are alignment (`\t  b)` under an open call).
    """
    step = _unit([len(indentation(line).lstrip("\t")) for line in lines])
    step = step if step == 4 else None

    def reindent(lead: str) -> str:
        tabs = len(lead) - len(lead.lstrip("\t"))
        spaces = len(lead) - tabs
        if step is None or " " not in lead[tabs:] or "\t" in lead[tabs:]:
            return lead
        return "\t" * (tabs + spaces // step) + " " * (spaces % step)

    return reindent


def _to_spaces(lines: list[str], ctx: CompletionContext) -> Callable[[str], str]:
    """Tabs become the document's unit; a space step of another width is rescaled past the base.

    A line deeper by something other than whole steps is aligned to the line
    above it, so it moves as far as that line moved.
    """
    unit = ctx.indent_unit
    base = len(cursor_line_indentation(ctx).expandtabs(len(unit)))
    deeper = [
        len(indentation(line)) - base
        for line in lines
        if "\t" not in indentation(line) and len(indentation(line)) > base
    ]
    step = _unit(deeper)
    if step is not None and step != len(unit) and _opens_blocks_by(ctx, step):
        step = None  # the document's own blocks also step by the model's width: keep it
    moved = 0

    def reindent(lead: str) -> str:
        nonlocal moved
        tabs = len(lead) - len(lead.lstrip("\t"))
        if tabs or "\t" in lead:
            return unit * tabs + lead[tabs:]
        if step is None or step == len(unit) or len(lead) <= base:
            return lead
        levels, alignment = divmod(len(lead) - base, step)
        if alignment:
            return " " * (len(lead) + moved)
        moved = levels * (len(unit) - step)
        return " " * (base + levels * len(unit))

    return reindent


_BLOCK_OPENERS = ("{", ":")
_MIN_BLOCKS = 2


def _opens_blocks_by(ctx: CompletionContext, step: int) -> bool:
    """Whether blocks near the cursor are indented by `step` spaces too (a line ending in
    `{` or `:`, then one deeper by exactly that), in a document whose unit is another:
    files that mix two-space and four-space functions (or code from two projects) have
    a unit by majority only, and the model's four-space body may be the document's own.
    Continuation lines (`foo(` then a line four deeper) are no evidence: Google's style
    indents blocks by two and continuations by four."""
    near = (
        ctx.prefix[-EVIDENCE_CHARS:].split("\n")[1:] + ctx.suffix[:EVIDENCE_CHARS].split("\n")[:-1]
    )
    found, previous = 0, None
    for line in near:
        if not line.strip():
            continue
        width = len(indentation(line))
        if (
            previous is not None
            and previous[1].endswith(_BLOCK_OPENERS)
            and "\t" not in indentation(line)
            and width - previous[0] == step
        ):
            found += 1
            if found >= _MIN_BLOCKS:
                return True
        previous = (width, line.rstrip())
    return False


def _unit(widths: list[int]) -> int | None:
    """The indentation step behind some widths: 2 or 4 columns, or None when they show none.

    The smallest width is one step; others may be alignment, which no step divides.
    """
    smallest = min((width for width in widths if width > 0), default=0)
    if smallest and smallest % 4 == 0:
        return 4
    if smallest and smallest % 2 == 0:
        return 2
    return None
