"""A suggestion must show something to accept."""

from __future__ import annotations

from starcoder_ls.text.types import CompletionContext, Mode

MIN_CHARS = 1
"""Visible characters a suggestion needs.

One is enough: a lone `)` or `]` that ends the statement is a right answer that
tells the user the line is complete, as Copilot shows it. A threshold of two
was measured to lose exactly those (4 of 100 next-line exact matches on this
repository's sources, none gained; see docs/quality.md).
"""


def drop_too_short(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Drop text with fewer than `MIN_CHARS` visible characters: blank text, in practice.

    Any filter before may have cut a completion down to whitespace, which would
    show as nothing yet insert blanks on Tab. Whitespace does not count: it is
    not what the user reads.
    """
    return text if len(text.strip()) >= MIN_CHARS else None
