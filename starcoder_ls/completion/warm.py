"""Warm before the first key: when the editor focuses a document, prefill the prompt at its
cursor in the background, so the first pause there resumes from the engine's KV cache
(engine/kv_reuse.py) instead of paying a cold prefill (2,000 tokens: 6.8 s on a float32
CPU, against 1.3 s once its head is cached). llama.vim does the same with `n_predict: 0`
when a buffer is entered.

The editor says where the cursor landed with the `starcoder/didFocus` notification
(`{textDocument: {uri}, position}`). The prompt is built there exactly as an automatic
request's (the same `prompting.job_prompt`, context, settings and open documents), so the
request after the first key shares its token prefix, and the engine generates one token
from it: the cheapest call that leaves the prompt's keys and values in the kept cache.
`didOpen` warms nothing: without a cursor there is no prompt to share (the window and the
cross-file snippets that lead the prompt follow the cursor), and editors open documents
they never show.

Lowest priority: at most one warm-up per server, any request cancels it (a prefill that
the worker already runs still ends, and its cache is kept: the request resumes from it),
a newer focus replaces it, a model still loading is waited for. Never for a serving engine
(`runs_on_loop`: it keeps its own cache), without `kvReuse` (nothing would be kept), nor
where a request would be refused (`request.refusal`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starcoder_ls.completion import trigger
from starcoder_ls.completion.calls import EngineCalls
from starcoder_ls.completion.failures import Failures, Unanswered
from starcoder_ls.completion.lifecycle import ModelHandle
from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.completion.prompting import job_prompt
from starcoder_ls.completion.request import CompletionRequest, is_count, locate, refusal
from starcoder_ls.completion.scheduler import Scheduler, Ticket
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.config import Settings
from starcoder_ls.cursor import uris
from starcoder_ls.cursor.context import PositionError
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.base import Engine, GenerationParams
from starcoder_ls.text.types import CompletionContext, Mode

log = logging.getLogger(__name__)

FOCUS_NOTIFICATION = "starcoder/didFocus"
"""Sent by a client when an editor gains focus or its cursor lands in a document."""


@dataclass(frozen=True, kw_only=True)
class Focus:
    uri: str
    line: int
    character: int
    """In the negotiated position encoding, as every position."""


def _get(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def focus_from(params: Any) -> Focus | None:
    """The focus from `starcoder/didFocus`'s params (a dict, or the object pygls makes of
    a method it has no type for); None when they do not say where."""
    uri = _get(_get(params, "textDocument"), "uri")
    position = _get(params, "position")
    line, character = _get(position, "line"), _get(position, "character")
    if not isinstance(uri, str) or not (is_count(line) and is_count(character)):
        return None
    return Focus(uri=uris.canonical(uri), line=line, character=character)


class Warmable(Protocol):
    """What a warm-up needs of the completion service (`service.CompletionService`)."""

    stats: ServiceStats
    scheduler: Scheduler
    calls: EngineCalls
    failures: Failures
    model: ModelHandle

    @property
    def settings(self) -> Settings: ...

    def next_id(self) -> int: ...


def why_not(request: CompletionRequest, settings: Settings, engine: Engine | None) -> str | None:
    """Why no warm-up at `request`'s place, from what is known before the model loaded;
    None to go on."""
    if not settings.warm_on_focus:
        return "warmOnFocus is off"
    if not settings.kv_reuse:
        return "kvReuse is off: no cache would be kept"
    if settings.backend != "local" or getattr(engine, "runs_on_loop", False):
        return "a serving engine keeps its own cache"
    return refusal(request, settings)


def warm_params(ctx: CompletionContext, prompt: Prompt, settings: Settings) -> GenerationParams:
    """The automatic request's greedy call at this place (the same healing, so the same
    ids), for one token."""
    mode = trigger.decide(ctx, multiline=settings.multiline)
    mode = Mode.SINGLE_LINE if mode is Mode.SKIP else mode
    call = plan_calls(ctx, prompt, mode, settings, invoked=False)[0]
    return dataclasses.replace(call, max_new_tokens=1, temperature=0.0, n=1, seed=None)


@dataclass(eq=False)
class _Running:
    ticket: Ticket
    task: asyncio.Task[None]


@dataclass(frozen=True)
class _Place:
    uri: str
    version: int
    line: int
    character: int


class Warmups:
    """The one warm-up in flight, and the place the last one finished at."""

    def __init__(self, service: Warmable) -> None:
        self._service = service
        self._running: _Running | None = None
        self._warm: tuple[_Place, int] | None = None
        """Where the last warm-up finished, and the model calls counted then: while no other
        call has run (and could have pushed its prompt out of the kept caches), focusing
        there again changes nothing."""

    def begin(self, request: CompletionRequest) -> asyncio.Task[None] | None:
        """Warm the engine's cache with the prompt at `request`'s place, in the background;
        None when there is nothing to do."""
        service = self._service
        reason = why_not(request, service.settings, service.model.engine)
        place = _Place(request.uri, request.version, request.line, request.character)
        if reason is None and self._warm == (place, service.stats.model_calls):
            reason = "already warm at this cursor"
        if reason is None and service.model.engine is None and not service.model.loading:
            reason = "no model"
        if reason is None and len(service.scheduler):
            reason = "a request is running"
        ctx = None
        if reason is None:
            try:
                ctx = locate(request)
            except PositionError as exc:
                reason = str(exc)
        if ctx is None:
            log.info("no warm-up: %s", reason)
            return None
        self.cancel()
        rid = service.next_id()
        ticket = service.scheduler.detached(ctx.uri, ctx.version, rid)
        service.stats.warmups += 1
        log.info("request %d: warm-up at the focused cursor", rid)
        task = asyncio.get_running_loop().create_task(self._run(request, ctx, ticket, place))
        self._running = _Running(ticket, task)
        return task

    def cancel(self) -> None:
        """A request came (or a newer focus, or the document closed): the worker is theirs.
        A prefill under way ends and keeps its cache; one not started never starts."""
        if self._running is not None:
            log.debug("warm-up %d cancelled", self._running.ticket.id)
            self._service.scheduler.cancel(self._running.ticket)
            self._running = None

    def document_closed(self, uri: str) -> None:
        if self._running is not None and self._running.ticket.key == uri:
            self.cancel()

    async def _run(
        self, request: CompletionRequest, ctx: CompletionContext, ticket: Ticket, place: _Place
    ) -> None:
        """No client waits for this one: its failures end here, logged (the exception's
        type only above debug level), and count for the back-off as a prefetch's do."""
        try:
            if await self._warm_up(request, ctx, ticket):
                stats = self._service.stats
                stats.warmups_completed += 1
                self._warm = (place, stats.model_calls)
        except asyncio.CancelledError:
            self._service.scheduler.cancel(ticket)
            raise
        except Unanswered as failure:
            self._service.failures.failed(failure, watched=False)
            log.info("request %d: warm-up not answered: %s", ticket.id, failure.reason)
        except Exception as exc:
            log.warning("request %d: warm-up failed (%s)", ticket.id, type(exc).__name__)
            log.debug("request %d: warm-up failed", ticket.id, exc_info=True)
        finally:
            if self._running is not None and self._running.ticket is ticket:
                self._running = None

    async def _warm_up(
        self, request: CompletionRequest, ctx: CompletionContext, ticket: Ticket
    ) -> bool:
        """True when the prompt went through the engine; False when cancelled or moot."""
        service = self._service
        model = service.model
        if model.engine is None and not await service.scheduler.wait_for(ticket, model.loaded):
            return False
        engine, settings = model.engine, service.settings
        if engine is None or ticket.cancelled:
            return False
        reason = why_not(request, settings, engine)
        if reason is not None:
            log.info("request %d: no warm-up: %s", ticket.id, reason)
            return False
        others = tuple(request.other_documents()) if settings.cross_file_context else ()
        prompt = await model.call(job_prompt, engine, ctx, settings, others)
        if ticket.cancelled:
            return False
        params = warm_params(ctx, prompt, settings)
        result = await service.calls.generate(engine, prompt, params, ticket)
        if result is None or result.cancelled or ticket.cancelled:
            return False
        log.info(
            "request %d: warmed %d prompt tokens (%s prefilled) in %.0f ms",
            ticket.id,
            result.prompt_tokens,
            "?" if result.prefilled_tokens is None else result.prefilled_tokens,
            result.generate_ms,
        )
        return True
