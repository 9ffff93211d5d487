"""Reading the document around the cursor without walking all of a large file."""

from __future__ import annotations

from starcoder_ls.text.types import CompletionContext


def following_non_blank_lines(ctx: CompletionContext, limit: int) -> list[str]:
    """Up to `limit` non-blank lines after the cursor line, without trailing blanks.

    The lines are found one by one, never by splitting the whole rest of the document:
    the filters only ever look a few lines ahead.
    """
    found: list[str] = []
    suffix = ctx.suffix
    start = suffix.find("\n") + 1
    while start and len(found) < limit:
        end = suffix.find("\n", start)
        line = (suffix[start:] if end < 0 else suffix[start:end]).rstrip()
        if line:
            found.append(line)
        start = end + 1
    return found


def indentation(line: str) -> str:
    """The leading blanks of `line`."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str, ctx: CompletionContext) -> int:
    """Columns of `line`'s indentation, a tab counting as one indentation unit of the document.

    Comparisons between the completion and the document only need a consistent
    measure, and by the time filters compare, both use the document's unit.
    """
    tab = len(ctx.indent_unit) if ctx.indent_unit != "\t" else 4
    return sum(tab if char == "\t" else 1 for char in indentation(line))


def cursor_line_indentation(ctx: CompletionContext) -> str:
    """Indentation of the cursor line in the document, whatever is left of the cursor."""
    return indentation(ctx.line_prefix + ctx.line_suffix)


def document_lines(text: str, ctx: CompletionContext) -> list[str]:
    """The completion's lines as the document will hold them: the first one after the line prefix.

    Only then does a first line typed at the cursor compare equal to the same
    line written again below it.
    """
    lines = text.split("\n")
    lines[0] = ctx.line_prefix + lines[0]
    return lines


def shows_indent_unit(ctx: CompletionContext) -> bool:
    """Whether the text near the cursor indents with `ctx.indent_unit`, or it is only the default.

    A document without indented lines says nothing about tabs or width, and
    rewriting the completion to a guess would be worse than leaving it alone.
    """
    marker = "\n" + ctx.indent_unit
    return marker in ctx.prefix[-EVIDENCE_CHARS:] or marker in ctx.suffix[:EVIDENCE_CHARS]


EVIDENCE_CHARS = 20_000
