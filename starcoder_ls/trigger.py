"""Decides, before any model work, whether to complete at a cursor and how much.

The rules are language-agnostic on purpose: they look at the characters around
the cursor and at the line that opens a block, which is enough to tell "finish
this line" from "write the body" in every language the models know.
"""

from __future__ import annotations

import re

from starcoder_ls.types import CompletionContext, Mode

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


def decide(ctx: CompletionContext) -> Mode:
    """Pick the completion mode for the cursor in `ctx`.

    - Inside a word (`fo█o`) the user is editing an identifier; a suggestion
      would split it, so skip.
    - Anything right of the cursor (real text or auto-closed `)`, `"]`) means
      the completion must fit into this line: single line.
    - At the end of a line that opens a block (`def f():█`) the only useful
      continuation is the body on the following lines, which a single-line
      completion would cut away: multi-line. The same holds on a blank line
      right after such a line.
    - Everywhere else (end of an ordinary line, blank line after a statement):
      single line, which is fast and rarely wrong.
    """
    line_prefix, line_suffix = ctx.line_prefix, ctx.line_suffix
    if _is_word_char(line_prefix[-1:]) and _is_word_char(line_suffix[:1]):
        return Mode.SKIP
    if line_suffix.strip():
        return Mode.SINGLE_LINE
    if line_prefix.strip():
        return Mode.MULTI_LINE if opens_block(line_prefix) else Mode.SINGLE_LINE
    previous = _previous_non_blank_line(ctx.prefix)
    return Mode.MULTI_LINE if opens_block(previous) else Mode.SINGLE_LINE


def opens_block(line: str) -> bool:
    """Whether the code after `line` is expected to be an indented body or continuation."""
    return _BLOCK_OPENER.search(line) is not None


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
