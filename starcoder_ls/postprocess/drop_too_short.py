"""A suggestion must be worth pressing Tab for."""

from __future__ import annotations

from starcoder_ls.types import CompletionContext, Mode

MIN_CHARS = 2
"""Visible characters below which a suggestion saves no keystroke: Tab is one key too."""


def drop_too_short(text: str, ctx: CompletionContext, mode: Mode) -> str | None:
    """Drop text with fewer than `MIN_CHARS` visible characters, blank text included.

    Any filter before may have cut a completion down to nothing, or to a
    single character that would flicker as ghost text on every keystroke while
    saving none. Whitespace does not count: it is not what the user reads.
    """
    return text if len(text.strip()) >= MIN_CHARS else None
