"""Brackets and quotes open at the cursor, and whether a completion closes one nothing opened.

A single line cannot tell whether the `)` it closes was opened lines above
(`foo(\\n    bar(█)`), so the scan starts a few dozen lines back. Quotes end at
the line break there, which keeps an apostrophe in a comment or a Rust
lifetime from hiding the rest of the text; brackets in comments are rare
enough to count.
"""

from __future__ import annotations

from starcoder_ls.types import CompletionContext

PAIRS = {")": "(", "]": "[", "}": "{"}
LOOKBEHIND_LINES = 50
LOOKBEHIND_CHARS = 4000
QUOTES = frozenset("\"'`")


def open_at_cursor(ctx: CompletionContext) -> list[str]:
    """The brackets still open at the cursor, innermost last, from the last lines before it."""
    prefix = ctx.prefix
    floor = max(0, len(prefix) - LOOKBEHIND_CHARS)
    start = len(prefix)
    for _ in range(LOOKBEHIND_LINES):
        start = prefix.rfind("\n", floor, start)
        if start < 0:
            start = floor
            break
    stack: list[str] = []
    for line in prefix[start:].split("\n"):
        _walk(line, None, stack, strict=False)
    return stack


def first_unmatched_closer(text: str, ctx: CompletionContext) -> int | None:
    """Index of the first bracket in `text` that closes nothing, or closes the wrong kind."""
    unmatched, _ = _walk(text, open_quote(ctx.line_prefix), open_at_cursor(ctx), strict=True)
    return unmatched


def fits(tail: str, ctx: CompletionContext) -> bool:
    """Whether `tail`, written at the cursor, closes only what is open and leaves no string open."""
    unmatched, quote = _walk(tail, open_quote(ctx.line_prefix), open_at_cursor(ctx), strict=True)
    return unmatched is None and quote is None


def open_quote(line_prefix: str) -> str | None:
    """The quote of a string left open on the cursor line, from the characters alone.

    The one scan for it: the bracket and closing helpers trust only the cursor
    line, and `literals` falls back to it where no parse knows better.
    """
    quote: str | None = None
    escaped = False
    for char in line_prefix:
        if quote is not None:
            quote, escaped = in_string(char, quote, escaped)
        elif char in QUOTES:
            quote = char
    return quote


def in_string(char: str, quote: str, escaped: bool) -> tuple[str | None, bool]:
    """One step of every scan here through a string opened by `quote`: the quote still
    open after `char` (None once it closes), and whether the next character is escaped."""
    if escaped:
        return quote, False
    if char == "\\":
        return quote, True
    return (None if char == quote else quote), False


def _walk(
    text: str, quote: str | None, stack: list[str], *, strict: bool
) -> tuple[int | None, str | None]:
    """Update `stack` over `text`; return the first unmatched closer (strict) and the open quote.

    Outside strict mode a closer that matches nothing is skipped and a
    mismatched one closes down to its opener: the lookbehind may start in the
    middle of anything.
    """
    escaped = False
    for index, char in enumerate(text):
        if quote is not None:
            quote, escaped = in_string(char, quote, escaped)
        elif char in QUOTES:
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in PAIRS:
            if stack and stack[-1] == PAIRS[char]:
                stack.pop()
            elif strict:
                return index, quote
            elif PAIRS[char] in stack:
                del stack[len(stack) - 1 - stack[::-1].index(PAIRS[char]) :]
    return None, quote
