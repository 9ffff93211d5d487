"""Brackets open at the cursor, and whether a completion closes one that nothing opened.

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
_QUOTES = frozenset("\"'`")


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
    unmatched, _ = _walk(text, _quote_at_cursor(ctx), open_at_cursor(ctx), strict=True)
    return unmatched


def fits(tail: str, ctx: CompletionContext) -> bool:
    """Whether `tail`, written at the cursor, closes only what is open and leaves no string open."""
    unmatched, quote = _walk(tail, _quote_at_cursor(ctx), open_at_cursor(ctx), strict=True)
    return unmatched is None and quote is None


def _quote_at_cursor(ctx: CompletionContext) -> str | None:
    return _walk(ctx.line_prefix, None, [], strict=False)[1]


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
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in _QUOTES:
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
