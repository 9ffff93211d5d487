"""Speculative prefetch: the completion after an accepted suggestion, computed before the
editor asks for it.

After Tab the editor asks for a completion right after the inserted text. Each item's
`starcoder.accepted` command carries that place (`command_arguments`), so when the editor
runs the command the service computes the next completion in the background and the
editor's request finds it in the exact cache and the typed-ahead memory.

Everything here runs on the event loop's thread, with no I/O and no clock:

* `where_to_prefetch`: whether a prefetch is worth computing at an accepted item's end, and how.
* `Acceptances`: an accepted item whose insertion the document does not show yet waits
  for the editor's didChange (editors send the command and the change in either order).
* `Prefetches`: computes a prefetch with the service's `choices` and remembers them (never
  shown, so neither debounced nor post-processed); the one prefetch being computed, which
  a real request at the same place joins and any other real request supersedes; and what
  the last prefetch of each document filled, so that the requests it answered can be
  counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starcoder_ls.completion import trigger
from starcoder_ls.completion.cache import CompletionCache
from starcoder_ls.completion.failures import Failures, Unanswered
from starcoder_ls.completion.request import (
    Choices,
    CompletionRequest,
    Job,
    is_count,
    locate,
    refusal,
)
from starcoder_ls.completion.scheduler import Scheduler, Ticket
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.config import Settings
from starcoder_ls.cursor import uris
from starcoder_ls.cursor.context import PositionError
from starcoder_ls.text.types import CompletionContext, Mode, OpenDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """An accepted item, as its command's arguments describe it."""

    uri: str
    version: int
    """The document version the item was computed for; its insertion makes a later one."""
    line: int
    character: int
    """Right after the inserted text, in the negotiated position encoding."""


def command_arguments(
    uri: str, index: int, version: int, line: int, character: int
) -> list[dict[str, Any]]:
    """The accepted command's arguments: the item and where the editor's cursor will be."""
    return [{"uri": uri, "index": index, "version": version, "line": line, "character": character}]


def accepted_from(arguments: Sequence[Any]) -> Accepted | None:
    """The accepted item from the command's arguments; None when they do not say where
    the insertion ends (no arguments, or items from a server without prefetch)."""
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        return None
    item = arguments[0]
    uri = item.get("uri")
    numbers = (item.get("version"), item.get("line"), item.get("character"))
    if not isinstance(uri, str) or not all(is_count(n) for n in numbers):
        return None
    return Accepted(
        uri=uris.canonical(uri),
        version=item["version"],
        line=item["line"],
        character=item["character"],
    )


def where_to_prefetch(
    request: CompletionRequest, settings: Settings, *, not_ready: str | None
) -> tuple[CompletionContext, Mode] | str:
    """The cursor and mode of the automatic request the editor will make at `request`'s
    place, or why no prefetch is worth computing there. `not_ready`: why the model cannot
    generate now (None when it can); a prefetch never waits for a load."""
    reason = "prefetch is off" if not settings.prefetch else refusal(request, settings)
    if reason is None:
        reason = not_ready
    if reason is not None:
        return reason
    try:
        ctx = locate(request)
    except PositionError as exc:
        return str(exc)
    mode = trigger.decide(ctx, multiline=settings.multiline)
    if mode is Mode.SKIP:
        return "no completion makes sense at this position"
    return ctx, mode


class Acceptances:
    """Accepted items waiting until their document shows the insertion.

    The document version tells: past the item's, the editor has applied the insertion.
    At most one waits per document; a newer acceptance replaces it.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, Accepted] = {}

    def accepted(self, item: Accepted, current_version: int | None) -> Accepted | None:
        """The item to prefetch for now, or None while it waits for `changed` (or when its
        document is not open)."""
        self._waiting.pop(item.uri, None)
        if current_version is None:
            return None
        if current_version > item.version:
            return item
        self._waiting[item.uri] = item
        return None

    def changed(self, uri: str, version: int) -> Accepted | None:
        """The waiting item once this change shows its insertion: the first change after
        the item's version is the insertion itself."""
        item = self._waiting.get(uri)
        if item is None or version <= item.version:
            return None
        del self._waiting[uri]
        return item

    def closed(self, uri: str) -> None:
        self._waiting.pop(uri, None)

    def __len__(self) -> int:
        return len(self._waiting)


@dataclass(eq=False)
class _Running:
    ctx: CompletionContext
    ticket: Ticket
    task: asyncio.Task[None]


@dataclass
class _Filled:
    keys: set[Hashable] = field(default_factory=set)
    """Exact-cache keys the prefetch stored."""
    memory: bool = False
    """The document's typed-ahead memory is still the prefetch's."""


class Completer(Protocol):
    """What a prefetch needs of the completion service (`service.CompletionService`)."""

    stats: ServiceStats
    cache: CompletionCache
    failures: Failures

    @property
    def settings(self) -> Settings: ...

    def next_id(self) -> int: ...

    def not_ready(self) -> str | None: ...

    def start_job(
        self, rid: int, settings: Settings, ctx: CompletionContext, mode: Mode
    ) -> Job: ...

    async def choices(
        self, job: Job, other_documents: Callable[[], Iterable[OpenDocument]]
    ) -> Choices | str: ...


class Prefetches:
    """The running prefetch, and what finished ones filled until a request uses it."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._running: _Running | None = None
        self._filled: dict[str, _Filled] = {}

    def begin(self, service: Completer, request: CompletionRequest) -> asyncio.Task[None] | None:
        """Compute in the background the automatic completion the editor will ask for at
        `request`'s place (right after an accepted suggestion), so that its request is
        answered from the caches; None when there is nothing to compute.

        Never shown and low priority: a real request at the same place waits for it, any
        other real request cancels it, as does a change of its document.
        """
        settings = service.settings
        found = where_to_prefetch(request, settings, not_ready=service.not_ready())
        if isinstance(found, str):
            log.info("no prefetch: %s", found)
            return None
        ctx, mode = found
        job = service.start_job(service.next_id(), settings, ctx, mode)
        service.stats.prefetches += 1
        log.info("request %d: prefetch after an accepted suggestion", job.id)
        task = asyncio.get_running_loop().create_task(
            self._run(service, job, request.other_documents)
        )
        self.cancel()  # one prefetch at a time: a newer acceptance makes the older useless
        self._running = _Running(ctx=ctx, ticket=job.ticket, task=task)
        self._filled[ctx.uri] = _Filled()
        return task

    async def _run(
        self, service: Completer, job: Job, other_documents: Callable[[], Iterable[OpenDocument]]
    ) -> None:
        """No client waits for this one, so its failures end here, logged: a warning
        without the exception's text (an engine's message may quote the prompt), the rest
        at debug level. Nothing is shown: a request the user makes meets the same fault."""
        try:
            reason = await self._fill(service, job, other_documents)
            if reason is not None:
                log.info("request %d: no completion: %s", job.id, reason)
        except asyncio.CancelledError:
            self._scheduler.cancel(job.ticket)
            raise
        except Exception as exc:
            log.warning("request %d: prefetch failed (%s)", job.id, type(exc).__name__)
            log.debug("request %d: prefetch failed", job.id, exc_info=True)
        finally:
            self.finish(job.ticket)

    async def _fill(
        self, service: Completer, job: Job, other_documents: Callable[[], Iterable[OpenDocument]]
    ) -> str | None:
        """The caches filled with the choices at the job's place; or why not."""
        ctx = job.ctx
        if service.cache.typed_ahead(ctx.uri, ctx.prefix, ctx.suffix):
            return "the typed-ahead memory already answers here"
        try:
            found = await service.choices(job, other_documents)
        except Unanswered as failure:
            service.failures.failed(failure, watched=False)
            return failure.reason
        if isinstance(found, str):
            return found
        for key in found.stored:
            self.stored(ctx.uri, key)
        service.cache.remember(ctx.uri, ctx.prefix, ctx.suffix, found.texts)
        self.remembered(ctx.uri, by_prefetch=True)
        return None

    def finish(self, ticket: Ticket) -> None:
        if self._running is not None and self._running.ticket is ticket:
            self._running = None

    def meet(self, ctx: CompletionContext) -> asyncio.Task[None] | None:
        """For a real request: the running prefetch's task when it computes this very
        place, for the request to wait for; any other prefetch is cancelled, so that it
        does not hold the model while someone waits."""
        running = self._running
        if running is None:
            return None
        theirs = running.ctx
        if (theirs.uri, theirs.version, theirs.prefix, theirs.suffix) == (
            ctx.uri,
            ctx.version,
            ctx.prefix,
            ctx.suffix,
        ):
            return running.task
        self.cancel()
        return None

    def document_changed(self, uri: str, version: int) -> None:
        running = self._running
        if running is not None and running.ctx.uri == uri and running.ctx.version != version:
            self.cancel()

    def document_closed(self, uri: str) -> None:
        if self._running is not None and self._running.ctx.uri == uri:
            self.cancel()
        self._filled.pop(uri, None)

    def cancel(self) -> None:
        """Stop the running prefetch (the worker checks its ticket at every decode step; an
        engine on the event loop has its task cancelled)."""
        if self._running is not None:
            log.debug("prefetch %d cancelled", self._running.ticket.id)
            self._scheduler.cancel(self._running.ticket)
            self._running = None

    # -- what a prefetch filled ----------------------------------------------------------

    def stored(self, uri: str, key: Hashable) -> None:
        """The prefetch of `uri` put `key` in the exact cache."""
        filled = self._filled.get(uri)
        if filled is not None:
            filled.keys.add(key)

    def remembered(self, uri: str, *, by_prefetch: bool) -> None:
        """The typed-ahead memory of `uri` was just replaced, by a prefetch or a request."""
        filled = self._filled.get(uri)
        if filled is not None:
            filled.memory = by_prefetch

    def claim_key(self, uri: str, key: Hashable) -> bool:
        """Whether the exact-cache entry a request just used was a prefetch's; each
        prefetch is claimed once, so hits never outnumber prefetches."""
        filled = self._filled.get(uri)
        if filled is None or key not in filled.keys:
            return False
        del self._filled[uri]
        return True

    def claim_memory(self, uri: str) -> bool:
        """Whether the typed-ahead memory a request just used was a prefetch's (once)."""
        filled = self._filled.get(uri)
        if filled is None or not filled.memory:
            return False
        del self._filled[uri]
        return True

    def forget_fills(self) -> None:
        """The caches were cleared: nothing a prefetch filled can answer any more."""
        self._filled.clear()
