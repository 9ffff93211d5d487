"""Stop a multi-line completion where it leaves the block the cursor is in."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from functools import cache, lru_cache

from starcoder_ls.text.lines import following_non_blank_lines, indent_width, indentation
from starcoder_ls.text.literals import inside_string, string_spans
from starcoder_ls.text.types import CompletionContext, Mode

_CLOSING_BRACKETS = ")]}"
_CLOSING_WORDS = ("end", "fi", "done", "esac")
"""Lines that close a block in Ruby, Lua, shell (`end`, `fi`, `done`, `esac`)."""
_CONTINUING_WORDS = (
    "else", "elif", "elsif", "elseif", "except", "catch", "finally", "rescue", "ensure",
)  # fmt: skip
"""Lines that go on with the statement a header began (`else:`, `} catch (e) {`)."""

_CLOSER = re.compile(rf"[)\]}}]|(?:{'|'.join(_CLOSING_WORDS)})\b(?!\s*[=(.,])")
_REOPENER = re.compile(rf"(?:[)\]}}]\s*)?(?:{'|'.join(_CONTINUING_WORDS)})\b|[)\]}}].*[{{(\[:]$")


def limit_scope_by_indentation(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Cut at the first later line indented outside the cursor's block.

    Past the body it was asked for, a model goes on writing the next function
    or the rest of the file, which the user did not ask for and mostly has.
    After a header on the cursor line (`def f(x):█`) the block is the lines
    indented deeper than that line; on a blank line, the lines at least as deep
    as the completion's first one. Two kinds of outside lines still belong,
    but only when the document does not already close the block right below
    the cursor: one closing line (`}`, `end`), and, after a header on the
    cursor line, `else:` or `} else {` continuing the statement it began.
    Lines inside a string literal are skipped: a docstring's indentation says
    nothing about blocks.

    On a blank line above code indented deeper than it, that code is the body
    of whatever the cursor line will hold (`for x in xs:` written above an
    existing loop body): only the completion's first line goes there.
    """
    lines = text.split("\n")
    if mode is not Mode.MULTI_LINE or len(lines) < 2:
        return text
    inside, first = _block_test(lines, ctx)
    header_here = bool(ctx.line_prefix.strip())
    if not header_here and _body_below(ctx):
        return "\n".join(lines[: first + 1]).rstrip()
    spans = string_spans(text, ctx)
    offset = sum(len(line) + 1 for line in lines[: first + 1])
    for number in range(first + 1, len(lines)):
        line, start = lines[number], offset
        offset += len(line) + 1
        if not line.strip() or inside_string(spans, start):
            continue
        width = indent_width(line, ctx)
        if inside(width):
            continue
        needs_closer = _document_needs_closer(ctx, width)
        body = line.strip()
        if header_here and needs_closer and _REOPENER.match(body):
            continue
        keep = number + 1 if needs_closer and _CLOSER.match(body) else number
        return "\n".join(lines[:keep]).rstrip()
    return text


def _body_below(ctx: CompletionContext) -> bool:
    """Whether the next code below the cursor line is indented deeper than the cursor line."""
    below = following_non_blank_lines(ctx, 1)
    return bool(below) and indent_width(below[0], ctx) > indent_width(ctx.line_prefix, ctx)


def _block_test(lines: list[str], ctx: CompletionContext) -> tuple[Callable[[int], bool], int]:
    """Which indentation widths are inside the block, and the line the scan starts after."""
    if ctx.line_prefix.strip():
        header = indent_width(ctx.line_prefix, ctx)
        return (lambda width: width > header), 0
    first = next((number for number, line in enumerate(lines) if line.strip()), 0)
    lead = ctx.line_prefix + indentation(lines[0]) if first == 0 else lines[first]
    reference = indent_width(lead, ctx)
    return (lambda width: width >= reference), first


def _document_needs_closer(ctx: CompletionContext, width: int) -> bool:
    """Whether the code below the cursor leaves the block at `width` open.

    It does not when the next line is deeper (the completion sits above more
    of the body) or is already a closing line at that indentation.
    """
    below = following_non_blank_lines(ctx, 1)
    if not below:
        return True
    next_width = indent_width(below[0], ctx)
    if next_width > width:
        return False
    return not (next_width == width and _CLOSER.match(below[0].strip()))


def block_exit_stops(ctx: CompletionContext, mode: Mode, sees_suffix: bool) -> tuple[str, ...]:
    """Where to stop a multi-line model that never saw the text after the cursor.

    A line indented outside the cursor's block ends what `limit_scope_by_indentation`
    keeps: stopping there changes no suggestion and saves the tokens, most of the wait
    on a CPU (3x less on HumanEval multi-line holes, same pass@1; docs/quality.md).
    Outside means left of the blank cursor line, or not right of a header on it, in
    any language: a line starting `}`, `    return` or `def`. Where the filter keeps such a line
    (a closing `}` or `end` the document lacks, after a header an `else` or `} catch`),
    no line that may start so is a stop there; a stop at a later line still ends the
    generation after the filter's cut.

    Three cases slip through, each needing more than a string match can see: a model
    that leaves the cursor line blank and starts outside the block (the pipeline would
    move that line up to the cursor; stopped, nothing shows), an outside line inside a
    string literal the answer opened, and a model whose indentation step changes after
    the block (`normalize_indentation` reads the step from every line it gets: stopped,
    from the block's own lines). A model that sees the suffix ends the middle by
    itself and gets no stops. A stop at the suffix's next line written whole was
    tried as well and removed: it never fired.
    """
    if mode is not Mode.MULTI_LINE or sees_suffix or ctx.line_suffix.strip():
        return ()
    if string_spans("", ctx):
        return ()  # the cursor is inside a string: the filter skips its lines
    header = bool(ctx.line_prefix.strip())
    stops: list[str] = []
    for lead in _outer_leads(ctx, header):
        width = indent_width(lead, ctx)
        kept = _document_needs_closer(ctx, width)
        words = (_CLOSING_WORDS + _CONTINUING_WORDS if header else _CLOSING_WORDS) if kept else ()
        stops.extend(_stops_at(lead, words))
    return tuple(stops)


@lru_cache(maxsize=256)
def _stops_at(lead: str, kept_words: tuple[str, ...]) -> tuple[str, ...]:
    """The stops of one indentation, built once: a request has up to ~500 of them, and
    building them anew for every keystroke churned the allocator (`bench soak`'s RSS
    grew 7.6% instead of 2.9%)."""
    return tuple(f"\n{lead}{start}" for start in _line_starts(kept_words))


def _outer_leads(ctx: CompletionContext, header: bool) -> list[str]:
    """The indentations, in whole units, that a line has when it has left the block.

    They are narrower than the blank cursor line, or at most as wide as the header.
    Normalization leaves them as written: it moves only lines deeper than the cursor line.
    """
    unit = ctx.indent_unit
    if not unit or unit.strip(unit[0]) or unit[0] not in " \t":
        return []
    cursor = indent_width(ctx.line_prefix, ctx)
    leads, lead = [], ""
    while indent_width(lead, ctx) < cursor or (header and indent_width(lead, ctx) == cursor):
        leads.append(lead)
        lead += unit
    return leads


_FIRST_CHARS = string.ascii_letters + "_$#@/\"'`<[(*!" + _CLOSING_BRACKETS
"""How a line of code starts, past its indentation."""
_NEXT_CHARS = string.ascii_lowercase + "_"
_START_LENGTH = 3
"""Longest start spelled out past a word the filter keeps: `fil` is no `fi`, `exp` no `except`."""


@cache
def _line_starts(kept_words: tuple[str, ...]) -> tuple[str, ...]:
    """Starts of lines that `_CLOSER` and `_REOPENER` match for none of `kept_words`.

    With no words, every start: no line is kept there. Otherwise closing brackets go,
    and a letter that begins a kept word is spelled on (`e` becomes `ex`, `el`... but
    not `en`, which may be `end`), up to `_START_LENGTH` characters.
    """
    if not kept_words:
        return tuple(_FIRST_CHARS)
    starts: list[str] = []
    pending = [char for char in _FIRST_CHARS if char not in _CLOSING_BRACKETS]
    while pending:
        start = pending.pop(0)
        if not _may_begin_word(start, kept_words):
            starts.append(start)
        elif len(start) < _START_LENGTH and any(word.startswith(start) for word in kept_words):
            pending.extend(start + char for char in _NEXT_CHARS)
    return tuple(starts)


def _may_begin_word(start: str, words: tuple[str, ...]) -> bool:
    """Whether a line starting with `start` may start with one of `words` as a whole word."""
    for word in words:
        if word.startswith(start):
            return True
        rest = start[len(word) :]
        if start.startswith(word) and not (rest[:1].isalnum() or rest[:1] == "_"):
            return True
    return False
