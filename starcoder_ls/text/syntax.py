"""What a real parser says about the cursor: comment, string, identifier, block header.

Character rules cannot tell `# steps:` from `if x:`, or `d[1:` from `else:`;
a tree-sitter parse can. Grammars come from prebuilt PyPI wheels and are loaded
on first use; a language without one (or a missing wheel) gets None, and callers
fall back to their character and indentation rules.

Only a window of lines around the cursor is parsed, so a keystroke in a 2 MB
file costs a parse of a few thousand lines. A request parses once: `at_cursor`
keeps its last answer for the trigger and every filter asking about the same
context. Trees are also kept per document version, for the other contexts built
on the same text (another request at the same place, a popup item applied).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from starcoder_ls.text import languages
from starcoder_ls.text.types import CompletionContext

_log = logging.getLogger(__name__)

WINDOW_LINES = 1000
"""Lines parsed on each side of the cursor; local structure is all the decisions need."""
WINDOW_CHARS = 128_000
"""Cap per side for files with very long lines (minified code)."""
_CACHE_SIZE = 8
_COMMENT_HOPS = 64
"""How many comments to step over when looking for the last code token."""
_HEADER_PARENTS = ("_statement", "_definition", "_clause", "case", "default")
_STRING_KINDS = frozenset(
    {"string", "string_literal", "raw_string_literal", "interpreted_string_literal",
     "template_string", "char_literal", "character_literal", "rune_literal", "text_block"}
)  # fmt: skip
_CODE_IN_STRING_KINDS = frozenset({"interpolation", "template_substitution"})
_BLANKS = frozenset(b" \t\r\n")


@cache
def grammar(language_id: str) -> Any | None:
    """The tree-sitter `Language` for an LSP language id, or None when none is installed.

    Which wheel holds a language's grammar is recorded in `languages.py`.
    """
    record = languages.by_id(language_id)
    if record is None or record.grammar is None:
        return None
    try:
        from tree_sitter import Language

        module = importlib.import_module(record.grammar.module)
        return Language(getattr(module, record.grammar.function)())
    except (ImportError, AttributeError, ValueError) as error:
        _log.info("no tree-sitter grammar for %s (%s): using indentation rules", language_id, error)
        return None


@dataclass(frozen=True)
class BlockHeader:
    """The code line that ends right before the cursor, and whether the tree says it opens a block.

    `opens` is None when the tree has no opinion (an unusual token, an error
    node); `line` is then what a character rule should look at, without comments.
    """

    line: str
    opens: bool | None


class CursorSyntax:
    """Questions about the cursor answered from one parse of the window around it."""

    def __init__(self, tree: Any, source: bytes, cursor: int) -> None:
        self._root = tree.root_node
        self._source = source
        self._cursor = cursor

    @cached_property
    def in_comment(self) -> bool:
        """Inside a comment, or at the end of a line comment (where typing goes on)."""
        if self._cursor == 0:
            return False
        node = _enclosing(self._leaf(self._cursor - 1), lambda kind: "comment" in kind)
        if node is None or node.start_byte >= self._cursor:
            return False
        return self._cursor < node.end_byte or not node.text.rstrip().endswith(b"*/")

    @cached_property
    def string_delimiter(self) -> str | None:
        """The opening delimiter (`"`, `\"\"\"`, `` ` ``) of the string literal at the cursor."""
        if self._cursor == 0:
            return None
        node = self._string_around(self._cursor - 1, min(self._cursor + 1, len(self._source)))
        if node is None or not node.start_byte < self._cursor < node.end_byte:
            return None
        opening = node.children[0] if node.children else node
        text = opening.text.decode("utf-8", "replace").lstrip("rRbBuUfF@$")
        return text[:3] if text[:3] in ('"""', "'''") else text[:1] or '"'

    @property
    def in_string(self) -> bool:
        return self.string_delimiter is not None

    @cached_property
    def in_identifier(self) -> bool:
        """The cursor splits a name (`fo█o`), where any insertion would edit, not extend, it."""
        if self._cursor == 0 or self._cursor >= len(self._source):
            return False
        node = self._root.descendant_for_byte_range(self._cursor - 1, self._cursor + 1)
        return node is not None and node.child_count == 0 and "identifier" in node.type

    def block_header(self) -> BlockHeader:
        """Look at the last code token before the cursor, stepping over comments and blank lines.

        A `:` opens a block only as part of a statement, definition or case
        (not a slice, dict entry, lambda or annotation); an unclosed bracket at
        the end of a line always does; a name, a number or a token inside a
        string never does.
        """
        end = self._last_code_byte(self._cursor)
        if end < 0:
            return BlockHeader(line="", opens=False)
        leaf = self._leaf(end)
        line_start = self._source.rfind(b"\n", 0, end) + 1
        line = self._source[line_start : end + 1].decode("utf-8", "replace")
        if self._string_around(end, end + 1) is not None or leaf.is_named:
            return BlockHeader(line=line, opens=False)
        if leaf.type in ("{", "(", "["):
            return BlockHeader(line=line, opens=True)
        if leaf.type == ":" and leaf.parent is not None:
            return BlockHeader(line=line, opens=_colon_opens_block(leaf))
        return BlockHeader(line=line, opens=None)

    def _last_code_byte(self, position: int) -> int:
        source, end = self._source, position
        for _ in range(_COMMENT_HOPS):
            end -= 1
            while end >= 0 and source[end] in _BLANKS:
                end -= 1
            if end < 0:
                return end
            comment = _enclosing(self._leaf(end), lambda kind: "comment" in kind)
            if comment is None:
                return end
            end = comment.start_byte
        return -1

    def _leaf(self, byte: int) -> Any:
        return self._root.descendant_for_byte_range(byte, byte + 1)

    def _string_around(self, start: int, end: int) -> Any | None:
        """The string literal holding the bytes `start` to `end`, unless they are code in it."""
        node = self._root.descendant_for_byte_range(start, end)
        while node is not None:
            if node.type in _CODE_IN_STRING_KINDS:
                return None
            if node.type in _STRING_KINDS:
                return node
            node = node.parent
        return None


def _colon_opens_block(colon: Any) -> bool | None:
    parent = colon.parent
    if parent.type != "ERROR":
        return parent.type.endswith(_HEADER_PARENTS)
    siblings = [child.type for child in parent.children if child.end_byte <= colon.start_byte]
    return False if "lambda" in siblings or "?" in siblings else None


def _enclosing(node: Any, wanted: Any) -> Any | None:
    while node is not None:
        if wanted(node.type):
            return node
        node = node.parent
    return None


@dataclass(frozen=True)
class _Parsed:
    language_id: str
    window: str
    tree: Any
    source: bytes


_cache: OrderedDict[tuple[str, int], _Parsed] = OrderedDict()
_lock = threading.Lock()
_last: tuple[CompletionContext, CursorSyntax | None] | None = None
"""The last context asked about and its answer (one slot: a request's filters ask in turn)."""


def at_cursor(ctx: CompletionContext) -> CursorSyntax | None:
    """The parse around the cursor of `ctx`, reusing the tree of an earlier call on the same text.

    The trigger and every filter of one request ask for the same context: the last
    answer is kept for it (by identity), so they share one window and one parse. The
    tree cache is keyed by (uri, version) but checked against the window text: contexts
    of one version can differ (a popup item applied as if accepted).
    """
    global _last
    last = _last
    if last is not None and last[0] is ctx:
        return last[1]
    found = _at_cursor(ctx)
    _last = (ctx, found)
    return found


def _at_cursor(ctx: CompletionContext) -> CursorSyntax | None:
    language = grammar(ctx.language_id)
    if language is None:
        return None
    before, after = _window(ctx.prefix, ctx.suffix)
    window = before + after
    key = (ctx.uri, ctx.version)
    with _lock:
        parsed = _cache.get(key)
        if parsed is not None and parsed.language_id == ctx.language_id and parsed.window == window:
            _cache.move_to_end(key)
        else:
            parsed = None
    if parsed is None:
        from tree_sitter import Parser

        source = window.encode("utf-8", "surrogatepass")
        parsed = _Parsed(ctx.language_id, window, Parser(language).parse(source), source)
        with _lock:
            _cache[key] = parsed
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    cursor = len(before.encode("utf-8", "surrogatepass"))
    return CursorSyntax(parsed.tree, parsed.source, cursor)


def _window(prefix: str, suffix: str) -> tuple[str, str]:
    """Up to `WINDOW_LINES` whole lines (and `WINDOW_CHARS`) on each side of the cursor."""
    floor = max(0, len(prefix) - WINDOW_CHARS)
    start = len(prefix)
    for _ in range(WINDOW_LINES + 1):
        start = prefix.rfind("\n", floor, start)
        if start < 0:
            break
    start = floor if start < 0 else start + 1
    if start == floor and floor > 0:
        line_break = prefix.find("\n", floor)
        start = floor if line_break < 0 else line_break + 1
    ceiling = min(len(suffix), WINDOW_CHARS)
    end = 0
    for _ in range(WINDOW_LINES + 1):
        end = suffix.find("\n", end, ceiling) + 1
        if end == 0:
            end = ceiling
            break
    return prefix[start:], suffix[:end]
