"""Plain data passed along the completion pipeline (no pygls, no torch)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Mode(enum.Enum):
    """How much to complete at a cursor position (decided by `completion/trigger.py`)."""

    SKIP = "skip"
    SINGLE_LINE = "single-line"
    MULTI_LINE = "multi-line"


@dataclass(frozen=True, kw_only=True)
class OpenDocument:
    """Another open document, for cross-file context."""

    uri: str
    path: str
    language_id: str
    text: str
    last_edit: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CompletionContext:
    """Everything known about one completion request, computed once and read-only.

    Offsets are Python string indices (code points); the LSP position encoding has
    already been resolved by `cursor/context.build_context`.
    """

    uri: str
    version: int
    language_id: str
    path: str
    """File name or path relative to the workspace, for `<filename>` style metadata."""
    prefix: str
    """Whole document text before the cursor."""
    suffix: str
    """Whole document text after the cursor."""
    line: int
    """Zero-based cursor line."""
    character: int
    """Cursor column as a Python string index into the line."""
    indent_unit: str = "    "
    """The document's indentation unit (a tab or N spaces), detected from its text."""
    other_documents: tuple[OpenDocument, ...] = field(default=())

    @property
    def line_prefix(self) -> str:
        """Text on the cursor line before the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @property
    def line_suffix(self) -> str:
        """Text on the cursor line after the cursor."""
        end = self.suffix.find("\n")
        return self.suffix if end < 0 else self.suffix[:end]


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One completion to show: `text` replaces the cursor line from `character` to `end_character`.

    `end_character` > `character` when auto-closed characters right of the cursor
    (`)`, `"]`) are part of the completion and must be replaced, not duplicated.
    """

    text: str
    character: int
    end_character: int
