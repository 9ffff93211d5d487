"""Completion contexts from text with a `█` cursor marker, so test cases read like the editor."""

from __future__ import annotations

from starcoder_ls.cursor.context import ClientPosition, build_context
from starcoder_ls.text.types import CompletionContext

CURSOR = "█"


def ctx_from(
    marked: str,
    *,
    language_id: str = "python",
    uri: str = "file:///work/example.py",
    version: int = 1,
) -> CompletionContext:
    """Context for the cursor at the single `█` in `marked`, through the real `build_context`."""
    if marked.count(CURSOR) != 1:
        raise ValueError(f"expected exactly one {CURSOR} in {marked!r}")
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    line = text.count("\n", 0, offset)
    character = offset - (text.rfind("\n", 0, offset) + 1)
    return build_context(
        text=text,
        uri=uri,
        version=version,
        language_id=language_id,
        position=ClientPosition(line, character, "utf-32"),
    )
