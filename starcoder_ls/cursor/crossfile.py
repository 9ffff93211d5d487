"""Snippets of the other open documents related to the cursor, for context beyond the file.

The function the user is about to call is often defined in another file they have open,
and a model that never saw its name can only guess it. The ranking is deliberately
lexical (identifier overlap, as in repository-level completion baselines): it needs no
model call, runs on the worker thread between two generations in milliseconds, and
"shares names with the code at the cursor" is what makes a snippet useful to a
left-to-right model. Cost stays bounded whatever the user has open: few documents,
only the head of a huge one, and chunking cached until a document's text changes.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from starcoder_ls.cursor.exclusions import DenyList, deny_list
from starcoder_ls.text.types import CompletionContext, OpenDocument

RESERVE_SHARE = 0.25
"""Share of the prompt budget that relevant snippets may take from a file too long to fit:
enough for a few definitions, while the text at the cursor keeps most of the window."""
RESERVE_MAX_TOKENS = 1536
"""Cap on that reserve for long windows, where more snippets mostly cost prefill time."""
MAX_DOCUMENTS = 16
"""Other documents looked at per request, most recently edited first."""
MAX_CANDIDATES = 4 * MAX_DOCUMENTS
"""Documents judged by the deny list per request, to find those `MAX_DOCUMENTS`: each
judgement costs a few `stat`s, and a user may have 2,000 documents open."""
MAX_SCAN_CHARS = 256_000
"""Only this much of a document's head is chunked: a 2 MB file is mostly data or
generated code, and its first definitions are the ones most likely to be imported."""
MAX_CHUNKS_PER_DOCUMENT = 400
MAX_SNIPPETS = 6
"""More than this rarely fit the reserve; counting their tokens would cost for nothing."""
CHUNK_LINES = 30
"""Long enough to hold a typical function whole, short enough that several fit."""
MAX_CHUNK_CHARS = 3_000
"""Minified lines would make one chunk eat the whole reserve."""
QUERY_LINES = 30
"""Lines before the cursor whose identifiers say what the user is working with."""
QUERY_CHARS = 8_000
"""At most this much of them: a line of data says nothing more for being longer."""
MIN_PARTIAL = 3
"""A partial word shorter than this matches too many names to point at one."""
MAX_PARTIAL_CHARS = 256
"""A word longer than this before the cursor is data, never a name to complete."""

_CACHED_DOCUMENTS = 64
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_WORD_RUN_AT_END = re.compile(r"\w+$")
_LEADING_DIGITS = re.compile(r"\d*")
_DEFINITION = re.compile(
    r"\b(?:def|class|function|func|fn|struct|interface|type|enum|trait|const|let|var|val)"
    r"\s+\*?([^\W\d]\w*)"
)
_ASSIGNMENT = re.compile(r"^([^\W\d]\w*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)
_COMMON_WORDS = """
    and as assert async await break case catch class const continue def default del do elif
    else enum except export extends false final finally fn for from func function global go if
    impl import in interface is lambda let match mod mut new nil none not null or package pass
    private protected pub public raise return self static struct super switch this throw throws
    true try type typeof use val var void while with yield int str float bool string char long
    double print len range list dict set tuple object println printf console log err error
    None True False
"""
_ENGLISH_WORDS = """
    the an of to on at by into over are was were be been being its this that these those
    there here what which who whom whose when where why how any both each few most other some
    such nor only own same so than too very can will just should would could may might must
    shall does did has have had having me my we our you your he him his she her they them
    their then but because until about against between through during before after above
    below up down out again further once also it
"""
_COMMON = frozenset(_COMMON_WORDS.split()) | frozenset(_ENGLISH_WORDS.split())
"""Keywords and builtins of common languages, and the function words of comments and
docstrings: shared by every file, they relate none."""

_DEFINES_WEIGHT = 0.2
"""A chunk that defines a name used at the cursor is what the model most needs to see."""
_PARTIAL_WEIGHT = 0.3
"""The word being typed (`celsius_to_`) completed by a name in the chunk: the strongest hint."""
_RECENT_WEIGHT = 0.5
"""Factor for the most recently edited document (halved for the next): what the user just
worked on is what the code at the cursor tends to use."""
_OTHER_LANGUAGE_FACTOR = 0.5


@dataclass(frozen=True)
class _Chunk:
    text: str
    identifiers: frozenset[str]
    defines: frozenset[str]


@dataclass(frozen=True)
class _Query:
    identifiers: frozenset[str]
    partial: str
    """The identifier being typed at the cursor, or "" when too short or absent."""


def reserve(context_window: int) -> int:
    """Tokens relevant snippets may take from a file too long to leave them room."""
    return min(int(context_window * RESERVE_SHARE), RESERVE_MAX_TOKENS)


def select_snippets(
    ctx: CompletionContext, *, limit: int = MAX_SNIPPETS, excluded: DenyList | None = None
) -> list[tuple[str, str]]:
    """(path, text) of the chunks of other open documents most related to the cursor.

    Only chunks that share names with the code at the cursor come back, so an empty list
    means nothing deserves room in the prompt. The score picks them; they come back in
    document order (by URI, then position), since they head the prompt: as the user
    types, scores shift and equally related chunks trade ranks, and a prompt ordered by
    rank would change at its first token, where an engine's KV cache stops being reused.

    Documents on the deny list (`excluded`, the built-in one by default) are never read:
    a key or an `.env` must not travel into another file's prompt.
    """
    query = _query(ctx)
    if not query.identifiers and not query.partial:
        return []
    deny = excluded if excluded is not None else deny_list()
    documents: list[OpenDocument] = []
    for doc in _by_recency(ctx.other_documents)[:MAX_CANDIDATES]:
        if deny.match(doc.uri) is None:
            documents.append(doc)
            if len(documents) == MAX_DOCUMENTS:
                break
    scored: list[tuple[float, int, str, int, str, str]] = []
    for order, doc in enumerate(documents):
        factor = 1.0
        if doc.last_edit > 0:
            factor += _RECENT_WEIGHT / (1 + order)  # edited documents come first
        if not _same_language(ctx, doc):
            factor *= _OTHER_LANGUAGE_FACTOR
        for position, chunk in enumerate(_chunks(doc)):
            score = _score(query, chunk)
            if score > 0:
                path = _snippet_path(ctx, doc)
                scored.append((score * factor, -order, doc.uri, position, path, chunk.text))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    here = ctx.prefix[-MAX_SCAN_CHARS:] + ctx.suffix[:MAX_SCAN_CHARS]
    picked: list[tuple[str, int, str, str]] = []
    seen: set[str] = set()
    for _, _, uri, position, path, text in scored:
        if text in seen or text in here:
            continue  # a second copy of the current file (a diff view) adds nothing
        seen.add(text)
        picked.append((uri, position, path, text))
        if len(picked) >= limit:
            break
    picked.sort(key=lambda item: (item[0], item[1]))
    return [(path, text) for _, _, path, text in picked]


def _query(ctx: CompletionContext) -> _Query:
    start = len(ctx.prefix)
    for _ in range(QUERY_LINES):
        start = ctx.prefix.rfind("\n", 0, start)
        if start < 0:
            break
    near = ctx.prefix[max(start + 1, len(ctx.prefix) - QUERY_CHARS) :]
    partial = _word_at_end(ctx.line_prefix)
    if len(partial) >= MIN_PARTIAL and not ctx.line_suffix[:1].isidentifier():
        near = near[: len(near) - len(partial)]
    else:
        partial = ""
    return _Query(_identifiers(near + "\n" + ctx.line_suffix), partial)


def _word_at_end(line: str) -> str:
    """The identifier that ends `line`, or "" when none does or it is longer than
    `MAX_PARTIAL_CHARS` (a base64 or hex blob, not a name being typed).

    Only the line's tail is searched: a regex anchored at the end of a long line tries
    every start and rescans to the end from each, which took ~80 s before a 160,000
    character literal, on the worker that every request waits for.
    """
    tail = line[-(MAX_PARTIAL_CHARS + 1) :]
    run = _WORD_RUN_AT_END.search(tail)
    if run is None or (run.start() == 0 and len(tail) < len(line)):
        return ""  # no word, or one that goes on beyond the tail
    return run.group()[_LEADING_DIGITS.match(run.group()).end() :]


def _score(query: _Query, chunk: _Chunk) -> float:
    """Jaccard overlap of identifier sets, plus evidence that the chunk defines what is used.

    One shared name alone is too weak (every file has a `result`), unless the chunk
    defines it or completes the word being typed.
    """
    shared = len(query.identifiers & chunk.identifiers)
    defines = bool(query.identifiers & chunk.defines)
    partial = bool(query.partial) and any(
        name.startswith(query.partial) and name != query.partial for name in chunk.identifiers
    )
    if shared < 2 and not defines and not partial:
        return 0.0
    union = len(query.identifiers | chunk.identifiers)
    score = shared / union if union else 0.0
    if defines:
        score += _DEFINES_WEIGHT
    if partial:
        score += _PARTIAL_WEIGHT
    return score


def _identifiers(text: str) -> frozenset[str]:
    return frozenset(
        name for name in _IDENTIFIER.findall(text) if len(name) >= 2 and name not in _COMMON
    )


def _by_recency(documents: Sequence[OpenDocument]) -> list[OpenDocument]:
    """Most recently edited first; never-edited documents keep their order after them."""
    return sorted(documents, key=lambda doc: -doc.last_edit)


def _same_language(ctx: CompletionContext, doc: OpenDocument) -> bool:
    if ctx.language_id and doc.language_id:
        return ctx.language_id == doc.language_id
    return os.path.splitext(ctx.path)[1] == os.path.splitext(doc.path)[1]


def _snippet_path(ctx: CompletionContext, doc: OpenDocument) -> str:
    """The other file's path from the folder both files share, as a repository path reads.

    `lib/units.py` tells the model more than `units.py`, and an absolute path would
    put the user's home directory into every prompt.
    """
    here, there = _file_path(ctx.uri), _file_path(doc.uri)
    if here and there:
        try:
            common = os.path.commonpath([os.path.dirname(here), there])
        except ValueError:
            return doc.path
        relative = os.path.relpath(there, common) if common not in ("", "/") else ""
        if relative and not relative.startswith(".."):
            return relative.replace(os.sep, "/")
    return doc.path


def _file_path(uri: str) -> str:
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else ""


_cache: OrderedDict[tuple[str, int, int], list[_Chunk]] = OrderedDict()
_cache_lock = threading.Lock()


def _chunks(doc: OpenDocument) -> list[_Chunk]:
    """The document's chunks, computed once per text: other documents rarely change
    between two keystrokes in the current one."""
    key = (doc.uri, len(doc.text), hash(doc.text))
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    chunks = [_make_chunk(text) for text in split_chunks(doc.text[:MAX_SCAN_CHARS])]
    with _cache_lock:
        _cache[key] = chunks
        while len(_cache) > _CACHED_DOCUMENTS:
            _cache.popitem(last=False)
    return chunks


def _make_chunk(text: str) -> _Chunk:
    defines = set(_DEFINITION.findall(text)) | set(_ASSIGNMENT.findall(text))
    return _Chunk(text, _identifiers(text), frozenset(defines - _COMMON))


def split_chunks(text: str) -> list[str]:
    """Blank-line separated paragraphs packed into chunks of at most `CHUNK_LINES` lines.

    A paragraph starting at column 0 (a new top-level definition) starts a new chunk, so
    small functions come whole and alone, and the methods of a long class come in
    groups. Language-agnostic on purpose: blank lines and indentation separate
    definitions in nearly every language.
    """
    chunks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        body = "\n".join(current).strip("\n")
        if body.strip() and len(body) <= MAX_CHUNK_CHARS:
            chunks.append(body + "\n")
        current.clear()

    for paragraph in _paragraphs(text):
        top_level = not paragraph[0][:1].isspace()
        if current and (top_level or len(current) + len(paragraph) > CHUNK_LINES):
            flush()
        while len(paragraph) > CHUNK_LINES:
            current.extend(paragraph[:CHUNK_LINES])
            paragraph = paragraph[CHUNK_LINES:]
            flush()
        if current:
            current.append("")
        current.extend(paragraph)
        if len(chunks) >= MAX_CHUNKS_PER_DOCUMENT:
            return chunks
    flush()
    return chunks[:MAX_CHUNKS_PER_DOCUMENT]


def _paragraphs(text: str) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs
