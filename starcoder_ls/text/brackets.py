"""Brackets and quotes open at the cursor, and whether a completion closes one nothing opened.

A single line cannot tell whether the `)` it closes was opened lines above
(`foo(\\n    bar(█)`), so the scan starts a few dozen lines back. Quotes end at
the line break there, which keeps an apostrophe in a comment or a Rust
lifetime from hiding the rest of the text; brackets in comments are rare
enough to count.

Which characters quote comes from the language table: a backtick is a quote in
JavaScript and Go, not in Python or C; in Rust a `'` is a lifetime (`&'a str`)
unless it closes a character literal (`'('`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from starcoder_ls.text import languages
from starcoder_ls.text.types import CompletionContext

PAIRS = {")": "(", "]": "[", "}": "{"}
LOOKBEHIND_LINES = 50
LOOKBEHIND_CHARS = 4000
QUOTES = frozenset("\"'`")
"""The quotes of a language the table has no string rules for."""

CHAR_LITERAL = re.compile(r"'(?:\\(?:u\{[0-9A-Fa-f]{1,6}\}|x[0-9A-Fa-f]{2}|.)|[^\\'\n])'")
"""A character literal where `'` is no string quote (Rust): one character or escape
between two `'`, so `'('` hides its bracket and `'a>` is a lifetime, not a string."""


@lru_cache(maxsize=64)
def quotes(language_id: str) -> frozenset[str]:
    """The one-character delimiters that open a string in `language_id`."""
    language = languages.by_id(language_id)
    if language is None or language.strings is None:
        return QUOTES
    delimiters = (*language.strings.line, *language.strings.multi_line)
    return frozenset(delimiter[0] for delimiter in delimiters)


@lru_cache(maxsize=64)
def _long_delimiters(language_id: str) -> tuple[str, ...]:
    """Delimiters of strings that span lines and are longer than a character: triple quotes."""
    language = languages.by_id(language_id)
    if language is None or language.strings is None:
        return ()
    return tuple(delimiter for delimiter in language.strings.multi_line if len(delimiter) > 1)


def open_at_cursor(ctx: CompletionContext) -> list[str]:
    """The brackets still open at the cursor, innermost last, from the last lines before it.

    Each line is read alone, so a triple quote there may open a string or close one
    begun lines above (`)''' % {` ends a long pattern): it is read as neither,
    which counts the brackets of a docstring's lines like those of a comment.
    """
    prefix = ctx.prefix
    floor = max(0, len(prefix) - LOOKBEHIND_CHARS)
    start = len(prefix)
    for _ in range(LOOKBEHIND_LINES):
        start = prefix.rfind("\n", floor, start)
        if start < 0:
            start = floor
            break
    stack: list[str] = []
    language_quotes = quotes(ctx.language_id)
    long_delimiters = _long_delimiters(ctx.language_id)
    for line in prefix[start:].split("\n"):
        for delimiter in long_delimiters:
            line = line.replace(delimiter, " " * len(delimiter))
        _walk(line, None, stack, strict=False, language_quotes=language_quotes)
    return stack


def first_unmatched_closer(text: str, ctx: CompletionContext) -> int | None:
    """Index of the first bracket in `text` that closes nothing, or closes the wrong kind."""
    language_quotes = quotes(ctx.language_id)
    quote = open_quote(ctx.line_prefix, language_quotes)
    unmatched, _ = _walk(
        text, quote, open_at_cursor(ctx), strict=True, language_quotes=language_quotes
    )
    return unmatched


def fits(tail: str, ctx: CompletionContext) -> bool:
    """Whether `tail`, written at the cursor, closes only what is open and leaves no string open."""
    language_quotes = quotes(ctx.language_id)
    quote = open_quote(ctx.line_prefix, language_quotes)
    unmatched, quote = _walk(
        tail, quote, open_at_cursor(ctx), strict=True, language_quotes=language_quotes
    )
    return unmatched is None and quote is None


def open_quote(line_prefix: str, language_quotes: frozenset[str] = QUOTES) -> str | None:
    """The quote of a string left open on the cursor line, from the characters alone.

    The one scan for it: the bracket and closing helpers trust only the cursor
    line, and `literals` falls back to it where no parse knows better.
    """
    quote: str | None = None
    escaped = False
    index = 0
    while index < len(line_prefix):
        char = line_prefix[index]
        if quote is not None:
            quote, escaped = in_string(char, quote, escaped)
        elif char in language_quotes:
            quote = char
        elif char == "'" and (literal := CHAR_LITERAL.match(line_prefix, index)):
            index = literal.end()
            continue
        index += 1
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
    text: str,
    quote: str | None,
    stack: list[str],
    *,
    strict: bool,
    language_quotes: frozenset[str] = QUOTES,
) -> tuple[int | None, str | None]:
    """Update `stack` over `text`; return the first unmatched closer (strict) and the open quote.

    Outside strict mode a closer that matches nothing is skipped and a
    mismatched one closes down to its opener: the lookbehind may start in the
    middle of anything.
    """
    escaped = False
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if quote is not None:
            quote, escaped = in_string(char, quote, escaped)
        elif char in language_quotes:
            quote = char
        elif char == "'" and (literal := CHAR_LITERAL.match(text, index - 1)):
            index = literal.end()
        elif char in "([{":
            stack.append(char)
        elif char in PAIRS:
            if stack and stack[-1] == PAIRS[char]:
                stack.pop()
            elif strict:
                return index - 1, quote
            elif PAIRS[char] in stack:
                del stack[len(stack) - 1 - stack[::-1].index(PAIRS[char]) :]
    return None, quote
