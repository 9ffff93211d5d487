"""Decides, before any model work, whether to complete at a cursor and how much.

Where a tree-sitter grammar is installed (`syntax.py`), the parse tells a block
header from a slice or a comment that happens to end in `:`, and knows when
the cursor sits in a comment, a string or a name. Other languages get rules
that look at the characters around the cursor and at indentation, which are
right often enough in every language the models know.
"""

from __future__ import annotations

import re

from starcoder_ls.text import syntax
from starcoder_ls.text.lines import following_non_blank_lines, indent_width
from starcoder_ls.text.types import CompletionContext, Mode

_BLOCK_OPENER = re.compile(
    r"""(?:
        (?<!:):            # Python, YAML, `case 1:`; not C++ `std::`
      | [{(\[]             # C-like blocks, literals and argument lists spread over lines
      | =>  | (?<!\S)->    # arrow functions, match arms; `->` after a space, not `a->b`
      | \|[^|]*\|          # Ruby `do |x|`
      | (?<!\w)(?:then|do|else|begin)  # Lua, Ruby, shell, Pascal
    )\s*$""",
    re.VERBOSE,
)


def decide(ctx: CompletionContext, *, multiline: str = "auto") -> Mode:
    """Pick the completion mode for the cursor in `ctx`.

    `multiline` is the setting: "never" caps every completion at one line,
    "always" asks for a block wherever the rest of the line is empty, "auto"
    (the default) follows the rules below. Positions to skip are skipped in
    every case.

    - Inside a name (`fo█o`) the user is editing it; a suggestion would split
      it, so skip. In a comment, a suggestion while a word is being typed
      (`# compu█`) is prose guessed from half a word: skip until a blank.
    - Anything right of the cursor (real text or auto-closed `)`, `"]`) means
      the completion must fit into this line: single line. So does a cursor in
      a string or a comment, even after `Args:`.
    - At the end of a line that opens a block (`def f():█`) the only useful
      continuation is the body on the following lines, which a single-line
      completion would cut away: multi-line. The same holds on a blank line
      right after such a line, or, without a grammar, on a blank line the
      editor indented deeper than the line above.
    - On an indented blank line at the end of its block (the next code below is
      indented less, or there is none), the user is writing the rest of the
      block: multi-line, cut where it leaves the block (`limit_scope_by_indentation`).
      Between two lines of the same block it is one line: the code below
      already goes on. Above code indented deeper (an existing body whose
      header is being written) it is one line too, whatever the line above.
    - Everywhere else (end of an ordinary line, blank line after a statement):
      single line, which is fast and rarely wrong.
    """
    mode = _decide(ctx)
    if mode is Mode.SKIP or multiline == "auto":
        return mode
    if multiline == "always" and not ctx.line_suffix.strip():
        return Mode.MULTI_LINE
    return Mode.SINGLE_LINE


def _decide(ctx: CompletionContext) -> Mode:
    line_prefix, line_suffix = ctx.line_prefix, ctx.line_suffix
    if _is_word_char(line_prefix[-1:]) and _is_word_char(line_suffix[:1]):
        return Mode.SKIP
    tree = syntax.at_cursor(ctx)
    if tree is not None and tree.in_identifier:
        return Mode.SKIP
    if tree is not None and tree.in_comment:
        return Mode.SKIP if _is_word_char(line_prefix[-1:]) else Mode.SINGLE_LINE
    if line_suffix.strip() or (tree is not None and tree.in_string):
        return Mode.SINGLE_LINE
    by_code_below = _blank_line_by_code_below(ctx)
    if by_code_below is not None:
        return by_code_below
    if tree is not None:
        header = tree.block_header()
        opens = opens_block(header.line) if header.opens is None else header.opens
        return Mode.MULTI_LINE if opens else Mode.SINGLE_LINE
    if line_prefix.strip():
        return Mode.MULTI_LINE if opens_block(line_prefix) else Mode.SINGLE_LINE
    previous = _previous_non_blank_line(ctx.prefix)
    if opens_block(previous) or _indented_deeper(line_prefix, previous):
        return Mode.MULTI_LINE
    return Mode.SINGLE_LINE


def opens_block(line: str) -> bool:
    """Whether the code after `line` is expected to be an indented body or continuation."""
    return _BLOCK_OPENER.search(line) is not None


def _blank_line_by_code_below(ctx: CompletionContext) -> Mode | None:
    """On a blank cursor line, what the next code below says, if anything: one line above
    a deeper body (its header is being written), a block at the end of an indented block
    (nothing below it in the block, or nothing below at all)."""
    if ctx.line_prefix.strip() or ctx.line_suffix.strip():
        return None
    below = following_non_blank_lines(ctx, 1)
    cursor = indent_width(ctx.line_prefix, ctx)
    below_width = indent_width(below[0], ctx) if below else -1
    if below_width > cursor:
        return Mode.SINGLE_LINE
    if ctx.line_prefix and below_width < cursor:
        return Mode.MULTI_LINE
    return None


def _indented_deeper(line_prefix: str, previous: str) -> bool:
    """An editor indents a new line deeper only after a line that opened something."""
    indent = previous[: len(previous) - len(previous.lstrip(" \t"))]
    return (
        bool(previous.strip()) and len(line_prefix) > len(indent) and line_prefix.startswith(indent)
    )


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _previous_non_blank_line(prefix: str) -> str:
    """Walk back line by line: splitting a 2 MB prefix on every keystroke would be wasted work."""
    end = prefix.rfind("\n")
    while end > 0:
        start = prefix.rfind("\n", 0, end) + 1
        if prefix[start:end].strip():
            return prefix[start:end]
        end = start - 1
    return ""
