"""Which characters of a completion close something opened before the cursor.

Editors auto-close brackets and quotes, so the text right of the cursor is often
`)` or `"]`. A completion that also writes them would duplicate them, unless
they close something the completion opened itself (`foo(x)` inside `print(█)`).
A small scan that knows brackets and quotes tells the two apart well enough for
one line of code; it does not need to parse any language.
"""

from __future__ import annotations

from starcoder_ls.text.brackets import CHAR_LITERAL, fits, in_string, open_quote, quotes
from starcoder_ls.text.types import CompletionContext

REPLACEABLE_AFTER_CURSOR = frozenset(")]}\"'`;,:")
"""Characters right of the cursor that a completion may write again and then replace.

Editors auto-close brackets and quotes; users type `;`, `,` and `:` ahead. Not
the cache's `TYPED_AHEAD_CLOSERS`: that set is what typing may consume.
"""

_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")
_PUNCTUATION = frozenset(";,:")


def is_auto_closed_only(line_suffix: str) -> bool:
    """Whether the rest of the line is only auto-closed characters (trailing blanks allowed)."""
    rest = line_suffix.rstrip()
    return bool(rest) and all(char in REPLACEABLE_AFTER_CURSOR for char in rest)


def closing_positions(text: str, line_prefix: str, language_id: str = "") -> list[tuple[int, str]]:
    """Indices and characters in `text` that may stand for an auto-closed character.

    These are brackets closing a bracket opened before the cursor, the quote
    ending a string open at the cursor, and `;`, `,`, `:` outside strings.
    """
    language_quotes = quotes(language_id)
    positions: list[tuple[int, str]] = []
    _scan(text, open_quote(line_prefix, language_quotes), positions, language_quotes)
    return positions


def imbalance(text: str, line_prefix: str, language_id: str = "") -> int:
    """How many brackets and quotes `text` closes from before the cursor or leaves open.

    Text that fits between existing code adds no net nesting, so a lower number
    means a completion that fits better.
    """
    language_quotes = quotes(language_id)
    positions: list[tuple[int, str]] = []
    left_open = _scan(text, open_quote(line_prefix, language_quotes), positions, language_quotes)
    closed = sum(1 for _, char in positions if char not in _PUNCTUATION)
    return closed + left_open


def replaced_suffix_length(text: str, ctx: CompletionContext) -> int:
    """How many characters right of the cursor the completion reproduces and should replace.

    Only a single-line completion in front of auto-closed characters qualifies;
    the closers must appear in the completion in order, each one closing
    something opened before the cursor. A leading run of them is enough
    (`x)` covers the `)` of `)]`). Of the runs that qualify, the longest after
    which the line is balanced wins: in `print("█")`, `a", "b` must not take
    the `"` that now closes its second string.
    """
    closers = ctx.line_suffix.rstrip()
    if "\n" in text or not is_auto_closed_only(closers):
        return 0
    candidates = iter(closing_positions(text, ctx.line_prefix, ctx.language_id))
    covered = 0
    for wanted in closers:
        if not any(char == wanted for _, char in candidates):
            break
        covered += 1
    for size in range(covered, -1, -1):
        if fits(text + closers[size:], ctx):
            return size
    return covered


def _scan(
    text: str,
    outer_quote: str | None,
    positions: list[tuple[int, str]],
    language_quotes: frozenset[str],
) -> int:
    """Append closing positions to `positions`; return how many openers stay open at the end."""
    quote, quote_is_outer, escaped = outer_quote, outer_quote is not None, False
    stack = 0
    skip_to = 0
    for index, char in enumerate(text):
        if index < skip_to:
            continue
        if quote is not None:
            quote, escaped = in_string(char, quote, escaped)
            if quote is None:
                if quote_is_outer:
                    positions.append((index, char))
                quote_is_outer = False
        elif char in language_quotes:
            quote = char
        elif char == "'" and (literal := CHAR_LITERAL.match(text, index)):
            skip_to = literal.end()
        elif char in _OPENERS:
            stack += 1
        elif char in _CLOSERS:
            if stack:
                stack -= 1
            else:
                positions.append((index, char))
        elif char in _PUNCTUATION:
            positions.append((index, char))
    unclosed_string = quote is not None and not quote_is_outer
    return stack + unclosed_string
