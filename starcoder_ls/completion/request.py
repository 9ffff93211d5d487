"""One completion request: what the server hands in, and the record the service keeps.

The server hands in the document and the cursor as they are, without computing anything
from them (`CompletionRequest`), so that the cheapest facts decide a refusal before any
text is cut or copied (`refusal`). A request that goes on becomes a `Job`: one id for
every log line, one settings snapshot for every stage, its scheduler ticket and mode. A
prefetch is a `Job` without a request (`CompletionService.start_job` makes both).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starcoder_ls.completion.scheduler import Ticket
from starcoder_ls.completion.selection import Selected
from starcoder_ls.config import Settings
from starcoder_ls.cursor.context import ClientPosition, build_context
from starcoder_ls.cursor.documents import has_lone_surrogate
from starcoder_ls.cursor.exclusions import deny_list
from starcoder_ls.text.types import CompletionContext, Mode, OpenDocument, Suggestion

MAX_DOCUMENT_CHARS = 16 * 1024 * 1024
"""Larger documents are not completed: building context for them costs more than it helps."""


def is_count(value: Any) -> bool:
    """A line, a character or a version as a client's own message carries it (a command's
    arguments, a notification pygls has no type for): an int from 0 up, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def looks_binary(text: str) -> bool:
    """NUL bytes or mostly control characters: not source code, nothing to complete."""
    sample = text[:8192]
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    return bool(sample) and controls / len(sample) > 0.1


def _no_documents() -> tuple[OpenDocument, ...]:
    return ()


@dataclass(frozen=True, kw_only=True)
class CompletionRequest:
    """A request as received: the document, the cursor in the client's encoding, and how
    it was asked for. Nothing here is derived from the text yet."""

    uri: str
    version: int
    language_id: str
    text: str = field(repr=False)
    line: int
    character: int
    """In code units of `encoding`, as the client sent it."""
    encoding: str = "utf-16"
    invoked: bool = False
    """Explicitly asked for: no debounce, up to `max_suggestions` choices."""
    selected: Selected | None = None
    other_documents: Callable[[], Iterable[OpenDocument]] = field(default=_no_documents, repr=False)
    """The other open documents, for cross-file context; called only when a completion
    with that context is really generated (it copies every open document)."""


def refusal(request: CompletionRequest, settings: Settings) -> str | None:
    """Why not to complete at all, from facts that cost nothing to check; None to go on."""
    if not settings.enabled:
        return "completions are disabled"
    if not settings.language_enabled(request.language_id):
        return f"language {request.language_id!r} is not enabled"
    excluded = deny_list(settings.excluded_files).match(request.uri)
    if excluded is not None:
        return f"{request.uri} is on the deny list: {excluded}"
    if len(request.text) > MAX_DOCUMENT_CHARS:
        return f"{request.uri} is over {MAX_DOCUMENT_CHARS} characters"
    if looks_binary(request.text):
        return f"{request.uri} looks binary"
    if has_lone_surrogate(request.text):
        return f"{request.uri} holds a lone UTF-16 surrogate"
    return None


def locate(request: CompletionRequest) -> CompletionContext:
    """The cursor in the request's own document (other documents are added later, if ever)."""
    return build_context(
        text=request.text,
        uri=request.uri,
        version=request.version,
        language_id=request.language_id,
        position=ClientPosition(request.line, request.character, request.encoding),
    )


@dataclass(frozen=True, kw_only=True)
class Job:
    """A request the service works on, past the cheap refusals and the trigger.

    Every stage reads `settings` from here, never the service's current ones: a settings
    change in the middle of a request must not give it half old and half new behaviour.
    """

    id: int
    settings: Settings
    ctx: CompletionContext
    """The cursor as the model sees it: the selected popup item already inserted."""
    mode: Mode
    ticket: Ticket
    invoked: bool
    selected: Selected | None
    keeps: bool = False
    """Its engine call may outlive it for a request typing on from its place
    (`keepTypedGeneration`, inflight.py): an automatic request without a popup item."""


@dataclass(frozen=True)
class Choices:
    """What the model gave for a `Job`, before post-processing."""

    texts: tuple[str, ...]
    stored: tuple[Hashable, ...] = ()
    """The exact-cache keys these choices were put under (greedy calls the engine answered)."""


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The suggestions for a request, with the cursor they belong to."""

    ctx: CompletionContext | None
    """None when the request was refused before its context was built."""
    suggestions: list[Suggestion] = field(default_factory=list)
