"""Whether two pieces of code are the same code, or only look alike.

`same_code` asks whether one is a copy of the other: the same tokens, whatever
the layout. Being a few characters apart is not it: parallel lines are too
(`cell.fg = attr.fg;` above `cell.bg = attr.bg;`).
"""

from __future__ import annotations

import re

from starcoder_ls.text.literals import comment_spans

_TOKEN = re.compile(r"\w+|\S")
"""A word (name, keyword, number) or one other visible character: spacing between
operators is layout, spacing between two words is not (`ab` is not `a b`)."""

_SEPARATORS = frozenset(";,")
"""Line endings that a formatter or the next keystroke adds or removes."""


def same_code(first: str, second: str, language_id: str) -> bool:
    """Whether the two texts are the same tokens, apart from layout and an added comment.

    Layout is whitespace, line breaks, and a line's final `;` or `,`. A comment
    after code that only one text has is not code (`return x;  // done` is
    `return x`), but two different ones tell lines apart (`0,  /* tp_setattro */`
    is not `0,  /* tp_as_buffer */`); a line that is only a comment compares by its
    words. Any changed name, number or operator makes another line: `httpAddr  string`
    is not `httpsAddr string`.
    """
    first_code, first_notes = _tokens(first, language_id)
    second_code, second_notes = _tokens(second, language_id)
    if first_code != second_code:
        return False
    return not first_notes or not second_notes or first_notes == second_notes


def code_tokens(text: str, language_id: str) -> list[str]:
    """The tokens `same_code` compares, line after line, without comments after code."""
    return _tokens(text, language_id)[0]


def _tokens(text: str, language_id: str) -> tuple[list[str], list[str]]:
    """The code's tokens and those of the comments that follow code on a line."""
    code = text
    for low, high in comment_spans(text, language_id):
        code = code[:low] + re.sub(r"[^\n]", " ", code[low:high]) + code[high:]
    tokens: list[str] = []
    notes: list[str] = []
    for line, line_code in zip(text.split("\n"), code.split("\n"), strict=True):
        words = _TOKEN.findall(line_code)
        if words:
            comment = (
                kept if kept != shown else " " for kept, shown in zip(line, line_code, strict=True)
            )
            notes.extend(_TOKEN.findall("".join(comment)))
        else:
            words = _TOKEN.findall(line)
        while words and words[-1] in _SEPARATORS:
            words.pop()
        tokens.extend(words)
    return tokens, notes
