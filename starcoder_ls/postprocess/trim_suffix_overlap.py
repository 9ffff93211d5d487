"""Cut the end of a completion where it writes again what follows the cursor."""

from __future__ import annotations

from starcoder_ls.text.closing import imbalance, is_auto_closed_only
from starcoder_ls.text.lines import following_non_blank_lines
from starcoder_ls.text.literals import inside_string, string_spans
from starcoder_ls.text.types import CompletionContext, Mode


def trim_suffix_overlap(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Remove the completion's tail that the document already has after the cursor.

    Two shapes: the end of the last line repeats the start of the rest of the
    line (`a + b)` before `) * 2`), or the last lines repeat the lines below the
    cursor (a model that closes a block the document already closes). A run of
    auto-closed characters alone (`)`, `"]`) is left alone: the final suggestion
    replaces it instead, which also serves completions that go on after it.
    A cut never falls inside a string literal the completion opened: what
    looks like the document there is the string's content.
    """
    line_suffix = ctx.line_suffix
    if line_suffix.strip() and not is_auto_closed_only(line_suffix):
        own_strings = [span for span in string_spans(text, ctx) if span[0] >= 0]
        return _trim_line_overlap(text, ctx, own_strings)
    if not line_suffix.strip() and "\n" in text:
        return _trim_repeated_lines(text, ctx)
    return text


def _trim_line_overlap(text: str, ctx: CompletionContext, strings: list[tuple[int, int]]) -> str:
    """Cut the longest overlap that does not split a word, a string or the bracket balance."""
    line_prefix, line_suffix = ctx.line_prefix, ctx.line_suffix
    last_line = text[text.rfind("\n") + 1 :]
    before = imbalance(text, line_prefix, ctx.language_id)
    for size in range(min(len(last_line), len(line_suffix)), 0, -1):
        overlap = line_suffix[:size]
        if not text.endswith(overlap) or inside_string(strings, len(text) - size):
            continue
        head = text[: len(text) - size]
        if _splits_word(head[-1:], overlap[0]) or _splits_word(overlap[-1], line_suffix[size:][:1]):
            continue
        if imbalance(head, line_prefix, ctx.language_id) <= before:
            return head
    return text


def _trim_repeated_lines(text: str, ctx: CompletionContext) -> str:
    """Cut from the first later line where the completion and the document below agree."""
    lines = text.split("\n")
    below = following_non_blank_lines(ctx, len(lines))
    if not below:
        return text
    spans = string_spans(text, ctx)
    offset = 0
    for start in range(1, len(lines)):
        offset += len(lines[start - 1]) + 1
        if inside_string(spans, offset):
            continue
        tail = [line.rstrip() for line in lines[start:] if line.strip()]
        common = min(len(tail), len(below))
        if common and tail[:common] == below[:common]:
            return "\n".join(lines[:start]).rstrip()
    return text


def _splits_word(left: str, right: str) -> bool:
    return _is_word_char(left) and _is_word_char(right)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"
