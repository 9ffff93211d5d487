"""Generations that survive typing (`keepTypedGeneration`).

In VS Code every keystroke cancels the request before it, and with it its engine call: on
a CPU that decodes a token in 30 ms, a call rarely lives past its third token, and a
pause waits for a whole line from scratch. When the user types what that call was
writing, its tokens are what the next request needs. So the greedy call of an automatic
request runs on a flag of its own (a detached ticket), not its request's: when its
request goes, the call goes on for `GRACE_S`, and a request for the same document whose
text is the call's place with text typed on (`cache.Place.typed_since`), with the same
settings and mode, adopts it: it waits for it and answers with the typed text taken off
the start of its answer, as typed-ahead reuse does (cache.py).

The call is cancelled as soon as its text so far (the engine's `on_text`, after each
decode step) and what was typed part ways, when a request for the document is anything
but typing on from it, or when no request adopts it in time. One at a time: a new one,
in any document, cancels the one before. Its result also fills the caches, so a request
coming after it ended is answered by typed-ahead reuse.

A line ahead (`nextLineAhead`): a kept one-line call at the end of a line goes on past the
line end to write the next line (`GenerationParams.line_ahead`). The requests waiting on it
are answered as soon as their own line is written, the call writing on meanwhile; one at
the end of the line, all of it typed, gets the next line (shown below the cursor, as
Copilot does); the request after Enter (the line break and the editor's indentation)
adopts it in whatever mode it asks, and gets the next line, often already written.

Runs on the event loop, except `Flight.on_text`, which an engine on the model's worker
thread calls: it reads `typed`, writes `partial` and sets the thread-safe cancel flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from starcoder_ls.completion.cache import CompletionCache, Place
from starcoder_ls.completion.failures import Unanswered
from starcoder_ls.completion.request import Job
from starcoder_ls.completion.scheduler import Scheduler, Ticket
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.engine.base import (
    Generation,
    GenerationParams,
    GenerationResult,
    TextCallback,
)
from starcoder_ls.engine.stopping import cut_at_stop, first_line
from starcoder_ls.text.types import Mode

log = logging.getLogger(__name__)

GRACE_S = 0.3
"""How long a call whose request went away waits for a request to adopt it. An editor
sends the next keystroke's change and request together, milliseconds apart."""

Run = Callable[[GenerationParams, Ticket, TextCallback | None], Awaitable[GenerationResult | None]]
"""One engine call on a ticket, handed the text callback (`calls.EngineCalls.generate`)."""


def agrees(text: str, typed: str, stops: tuple[str, ...]) -> bool:
    """Whether a generation whose text so far is `text` may still start with `typed`."""
    text = cut_at_stop(text, stops)[0]
    return text.startswith(typed) or typed.startswith(text)


def writes_ahead(job: Job, call: GenerationParams) -> GenerationParams:
    """`call`, writing a line ahead where it may: a one-line call at the end of its line
    (nothing right of the cursor) when the settings want it."""
    one_line = job.mode is Mode.SINGLE_LINE and call.stop == ("\n",)
    if not (job.settings.next_line_ahead and one_line) or job.ctx.line_suffix.strip():
        return call
    return dataclasses.replace(call, line_ahead=True)


class Flight:
    """One kept engine call: where it was asked (its request's place), who waits for it."""

    def __init__(
        self,
        job: Job,
        call: GenerationParams,
        key: Hashable,
        ticket: Ticket,
        cancel: Callable[[Ticket], None],
    ) -> None:
        """`cancel`: the scheduler's, which also stops a call running on the loop."""
        self.uri = job.ctx.uri
        self.settings = job.settings
        self.mode = job.mode
        self.place = Place.of(job.ctx.prefix, job.ctx.suffix)
        self.key = key
        self.call = call
        self.stops = () if call.line_ahead else call.stop
        """What `agrees` cuts at: nothing for a call writing a line ahead, whose text
        goes on past the first line end (the engine ends it at the next one)."""
        self.ticket = ticket
        """The call's own flag, which its requests' cancellation leaves alone."""
        self.owner = job.ticket
        """The request waiting for it now, its first or the latest to adopt it."""
        self.first = job.id
        self.typed = ""
        """What its owner typed on from its place."""
        self.partial = ""
        self.kept = False
        """Its first request went away while it ran."""
        self.abandoned = False
        self.task: asyncio.Future[GenerationResult | None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.changed = asyncio.Event()
        """Set when the text grew or the call ended: a waiter's line may be ready."""
        self.started = time.perf_counter()
        self.steps = 0
        self._loop = asyncio.get_running_loop()
        self._cancel = cancel

    @property
    def ahead(self) -> bool:
        """It writes a line ahead (`writes_ahead`)."""
        return self.call.line_ahead

    def own_line(self, text: str) -> str | None:
        """For a call writing a line ahead: its first request's answer in `text`, its first
        line (`stopping.first_line`); None while that line is not complete."""
        call = self.call
        return first_line(text, call.stop, after_blank_start=call.stop_after_blank_start)

    def on_text(self, text: str) -> None:
        """The engine's text so far (any thread): stop at the first token that parts
        ways with what was typed."""
        self.partial = text
        self.steps += 1
        if not agrees(text, self.typed, self.stops):
            self.stop()
        elif self.ahead:
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is ending
                self._loop.call_soon_threadsafe(self.changed.set)

    def line_for(self, typed: str) -> str | None:
        """For a call writing a line ahead: what a request that typed `typed` from its
        place is answered now, the rest of its own line once written; None until then,
        and always for a request that typed the whole first line or more: it waits for
        the call's end, the next line (shown after the line end, as a line of its own)."""
        line = self.own_line(self.partial)
        if line is None or len(typed) >= len(line):
            return None
        return line[len(typed) :]

    def early(self, text: str) -> GenerationResult:
        """The answer of a request whose line is written while the call writes on."""
        elapsed = (time.perf_counter() - self.started) * 1000
        choice = Generation(text=text, tokens=self.steps, stop_reason="stop")
        return GenerationResult(choices=(choice,), prompt_tokens=0, generate_ms=elapsed)

    def stop(self) -> None:
        self.ticket.cancel.set()  # a worker's call stops at its next step
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is ending
            self._loop.call_soon_threadsafe(self._cancel, self.ticket)  # a task on the loop


class Flights:
    """The kept engine calls: one at a time, for the document typed in last."""

    def __init__(
        self,
        scheduler: Scheduler,
        cache: CompletionCache,
        stats: ServiceStats,
        current_version: Callable[[str], int | None],
    ) -> None:
        self._scheduler = scheduler
        self._cache = cache
        self._stats = stats
        self._current_version = current_version
        self._by_uri: dict[str, Flight] = {}

    def __len__(self) -> int:
        return len(self._by_uri)

    async def generate(
        self, job: Job, call: GenerationParams, key: Hashable, run: Run, *, streams: bool
    ) -> GenerationResult | None:
        """`call` for `job`: kept through typing when the job may be (`Job.keeps`, a greedy
        call of one choice) and the engine `streams` its text (without it, a call that
        parted ways with the typing would be known only at its end); else run on the job's
        own ticket. None when the job went."""
        if not (job.keeps and streams) or call.temperature > 0 or call.n != 1:
            return await run(call, job.ticket, None)
        for uri in list(self._by_uri):  # the model runs one call at a time: this one first
            self.forget(uri, "a new generation starts")
        ticket = self._scheduler.detached(job.ctx.uri, job.ctx.version, job.id)
        flight = Flight(job, writes_ahead(job, call), key, ticket, self._scheduler.cancel)
        flight.task = asyncio.ensure_future(run(flight.call, ticket, flight.on_text))
        flight.task.add_done_callback(functools.partial(self._ended, flight))
        self._by_uri[flight.uri] = flight
        result = await self._wait(job, flight, "")
        if result is None or not flight.ahead:
            return result
        # The call's own end, past the line ahead: its request asked for one line.
        choices = tuple(
            dataclasses.replace(c, text=_own_line(flight, c.text)) for c in result.choices
        )
        return dataclasses.replace(result, choices=choices)

    async def adopted(self, job: Job) -> tuple[str, ...] | str | None:
        """The rest of the kept call's answer when `job` types on from its place: waited
        for, with the typed text taken off; a reason when `job` went meanwhile; None to
        generate afresh (nothing kept here, or it parted ways with the typing)."""
        flight = self._by_uri.get(job.ctx.uri)
        if flight is None:
            return None
        typed = self._typed_on(flight, job)
        if typed is not None:
            flight.typed = typed  # first: a step from now on compares with it (`on_text`)
        if typed is None or not agrees(flight.partial, typed, flight.stops):
            self.forget(flight.uri, "the document changed otherwise, or the typing parted ways")
            return None
        flight.owner = job.ticket
        if flight.timer is not None:
            flight.timer.cancel()
        log.info("request %d waits for request %d's generation, typed on", job.id, flight.first)
        try:
            result = await self._wait(job, flight, typed)
        except Unanswered:
            return None  # asked again afresh, where `failures.py` decides what it becomes
        if job.ticket.cancelled:
            return "superseded while waiting for the generation it types on"
        texts = [] if result is None or result.cancelled else [c.text for c in result.choices[:1]]
        if not texts or not texts[0].startswith(typed) or texts[0] == typed:
            self._count_abandoned(flight)
            return None
        if not self._scheduler.is_current(job.ticket, self._current_version(job.ctx.uri)):
            return "the document changed while generating"
        self._stats.adopted_generations += 1
        return (texts[0][len(typed) :],)

    def forget(self, uri: str, reason: str) -> None:
        """Cancel the call kept for `uri`, if any."""
        flight = self._by_uri.pop(uri, None)
        if flight is None:
            return
        if flight.timer is not None:
            flight.timer.cancel()
        flight.stop()
        self._count_abandoned(flight)
        log.info("generation of request %d cancelled: %s", flight.first, reason)

    def cancel(self) -> None:
        """Every kept call (a new model, new settings, the end)."""
        for uri in list(self._by_uri):
            self.forget(uri, "the settings or the model changed")

    def _typed_on(self, flight: Flight, job: Job) -> str | None:
        """What `job` typed on from the flight's place; None when it may not adopt it (the
        mode may differ only past a line break a line-ahead call writes across)."""
        if not job.keeps or job.settings != flight.settings:
            return None
        typed = flight.place.typed_since(job.ctx.prefix, job.ctx.suffix)
        if job.mode is flight.mode or (flight.ahead and typed is not None and "\n" in typed):
            return typed
        return None

    async def _wait(self, job: Job, flight: Flight, typed: str) -> GenerationResult | None:
        """The call's result; for a call writing a line ahead, as soon as the line of a
        request that typed `typed` is written (`Flight.line_for`, the typed text kept at
        its start, as in the call's own result). None when `job` went first (the call is
        kept a while) or the call was stopped on the event loop."""
        task = flight.task
        assert task is not None
        done = answered = False
        try:
            while not (done := task.done()):
                line = flight.line_for(typed) if flight.ahead else None
                if line is not None:
                    answered = flight.kept = True  # it writes on beyond its requests
                    return flight.early(typed + line)
                flight.changed.clear()
                until = flight.changed.wait if flight.ahead else lambda: asyncio.shield(task)
                if not await self._scheduler.wait_for(job.ticket, until):
                    break
        finally:
            if not (done or answered) and flight.owner is job.ticket and not task.done():
                self._orphaned(flight)
        if not done or task.cancelled():
            return None
        return task.result()

    def _orphaned(self, flight: Flight) -> None:
        """Its owner went: kept for `GRACE_S` for a request typing on to adopt it."""
        if self._by_uri.get(flight.uri) is not flight:
            return
        flight.kept = True
        owner = flight.owner
        loop = asyncio.get_running_loop()

        def unadopted() -> None:
            if flight.owner is owner:
                self.forget(flight.uri, "no request typed on from it")

        flight.timer = loop.call_later(GRACE_S, unadopted)

    def _ended(self, flight: Flight, task: asyncio.Future[GenerationResult | None]) -> None:
        """The call ended: its answer fills the caches, for whoever comes after it."""
        if self._by_uri.get(flight.uri) is flight:
            del self._by_uri[flight.uri]
        flight.changed.set()
        if flight.timer is not None:
            flight.timer.cancel()
        if task.cancelled() or task.exception() is not None:
            return  # an error reaches whoever waits; one nobody waits for is no news
        result = task.result()
        if result is None or result.cancelled:
            self._count_abandoned(flight)
            return
        answer = tuple(choice.text for choice in result.choices)
        self._cache.put(flight.key, tuple(_own_line(flight, text) for text in answer))
        self._cache.remember_at(flight.uri, flight.place, answer)

    def _count_abandoned(self, flight: Flight) -> None:
        if flight.kept and not flight.abandoned:
            flight.abandoned = True
            self._stats.abandoned_generations += 1


def _own_line(flight: Flight, text: str) -> str:
    """The answer its first request asked for in a call's text: all of it, or for a call
    writing a line ahead its first line (the whole text when the call ended before it)."""
    line = flight.own_line(text) if flight.ahead else None
    return text if line is None else line
