"""Where a completion's text is inside a string literal, so that no filter cuts it there.

A docstring or template literal may hold lines at any indentation, and text
that looks like the code below the cursor; a cut inside one leaves an
unterminated string that breaks the rest of the file. The scan knows each
language family's quotes and comments well enough for that, without a parser:
the completion is a fragment that no grammar would parse cleanly anyway. The
state at the cursor comes from the document's parse when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from starcoder_ls.text import languages, syntax
from starcoder_ls.text.brackets import CHAR_LITERAL, open_quote, quotes
from starcoder_ls.text.types import CompletionContext


@dataclass(frozen=True)
class _Lexicon:
    line_comments: tuple[str, ...] = ("//",)
    block_comment: tuple[str, str] | None = ("/*", "*/")
    multi_line_quotes: tuple[str, ...] = ()
    """Delimiters whose strings may span lines; others end at the line break."""
    raw_quotes: tuple[str, ...] = ()
    """Delimiters inside which a backslash escapes nothing."""
    line_quotes: tuple[str, ...] = ('"', "'")

    @property
    def quotes(self) -> tuple[str, ...]:
        """Every opening delimiter, longest first: a triple quote is not an empty string."""
        return tuple(sorted({*self.multi_line_quotes, *self.line_quotes}, key=len, reverse=True))


_C_LIKE = _Lexicon()


@lru_cache(maxsize=64)
def _lexicon(language_id: str) -> _Lexicon:
    """The scan's rules from `languages.py`; C-like for a language with no string rules there."""
    language = languages.by_id(language_id)
    if language is None or language.strings is None:
        return _C_LIKE
    return _Lexicon(
        line_comments=(language.line_comment,) if language.line_comment else (),
        block_comment=language.block_comment,
        multi_line_quotes=language.strings.multi_line,
        raw_quotes=language.strings.raw,
        line_quotes=language.strings.line,
    )


def string_spans(text: str, ctx: CompletionContext) -> list[tuple[int, int]]:
    """Half-open index ranges of `text` covered by string literals, delimiters included.

    A literal already open at the cursor starts at -1; one left open ends at
    `len(text)`. A cut at index `i` is inside a literal when `start < i < end`.
    """
    strings, _ = _scan(text, _lexicon(ctx.language_id), _delimiter_at_cursor(ctx))
    return strings


def comment_spans(text: str, language_id: str) -> list[tuple[int, int]]:
    """Half-open index ranges of `text` covered by comments, for whole lines of code.

    The scan starts outside any string or comment, so `text` should begin at a
    line's start; a `//` or `#` inside a string literal is not a comment.
    """
    _, comments = _scan(text, _lexicon(language_id), None)
    return comments


def _scan(
    text: str, lexicon: _Lexicon, quote: str | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The string and the comment spans of `text`, from `quote` open at its start."""
    strings: list[tuple[int, int]] = []
    comments: list[tuple[int, int]] = []
    start, index = -1, 0
    while index < len(text):
        if quote is not None:
            end = _string_end(text, index, quote, lexicon)
            strings.append((start, end))
            quote, index = None, end
            continue
        if any(text.startswith(marker, index) for marker in lexicon.line_comments):
            line_break = text.find("\n", index)
            end = len(text) if line_break < 0 else line_break
            comments.append((index, end))
            index = end
        elif lexicon.block_comment and text.startswith(lexicon.block_comment[0], index):
            close = text.find(lexicon.block_comment[1], index + len(lexicon.block_comment[0]))
            end = len(text) if close < 0 else close + len(lexicon.block_comment[1])
            comments.append((index, end))
            index = end
        elif "'" not in lexicon.quotes and (char := CHAR_LITERAL.match(text, index)):
            strings.append((index, char.end()))
            index = char.end()
        elif (
            opening := next((q for q in lexicon.quotes if text.startswith(q, index)), None)
        ) is not None:
            quote, start, index = opening, index, index + len(opening)
        else:
            index += 1
    if quote is not None:
        strings.append((start, len(text)))
    return strings, comments


def inside_string(spans: list[tuple[int, int]], index: int) -> bool:
    """Whether cutting the text at `index` would split a string literal."""
    return any(start < index < end for start, end in spans)


def _delimiter_at_cursor(ctx: CompletionContext) -> str | None:
    """The string delimiter open at the cursor: the parse's answer first, since it knows
    multi-line strings (a docstring opened lines above); else the cursor line's `open_quote`."""
    tree = syntax.at_cursor(ctx)
    if tree is not None and (tree.in_string or tree.in_comment):
        return tree.string_delimiter
    return open_quote(ctx.line_prefix, quotes(ctx.language_id))


def _string_end(text: str, index: int, quote: str, lexicon: _Lexicon) -> int:
    """Index just past the closing delimiter; a one-line string also ends at the line break."""
    spans_lines = quote in lexicon.multi_line_quotes
    escapes = quote not in lexicon.raw_quotes
    while index < len(text):
        if escapes and text[index] == "\\":
            index += 2
        elif text.startswith(quote, index):
            return index + len(quote)
        elif text[index] == "\n" and not spans_lines:
            return index
        else:
            index += 1
    return len(text)
