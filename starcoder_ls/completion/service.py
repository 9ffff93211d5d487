"""The completion pipeline, with no LSP in sight.

`lsp/server.py` hands in `CompletionRequest`s and turns `Answer`s into LSP types; in
between, as plain calls on plain data (docs/architecture.md): cheap refusals (`request.py`)
-> context -> trigger -> scheduler -> prompt -> plan -> engine -> postprocess. `choices` is
the one call that produces a `Job`'s choices: a request post-processes them and answers
(`complete`), a prefetch remembers them (`prefetch.py`). What an engine's failure becomes
is decided in `failures.py`; the model's life cycle is `lifecycle.Model`; the settings live
here, once. Everything here runs on the event loop's thread, except what `Model.call` runs
on the model's worker thread (`_build_prompt`, `_on_worker`), which touches no state here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator

from starcoder_ls import postprocess
from starcoder_ls.completion import line_end, trigger
from starcoder_ls.completion.cache import CompletionCache, make_key
from starcoder_ls.completion.calls import EngineCalls
from starcoder_ls.completion.failures import Failures, Unanswered, show
from starcoder_ls.completion.inflight import Flights
from starcoder_ls.completion.lifecycle import (
    EngineFactory,
    Model,
    ModelHandle,
    ModelStatus,
    load_engine,
    model_label,
)
from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.completion.prefetch import Prefetches
from starcoder_ls.completion.prompting import job_prompt as _build_prompt
from starcoder_ls.completion.request import (
    Answer,
    Choices,
    CompletionRequest,
    Job,
    locate,
    refusal,
)
from starcoder_ls.completion.scheduler import Scheduler
from starcoder_ls.completion.selection import apply_selected, over_selection
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.config import Settings
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.base import (
    Engine,
    ProgressCallback,
)
from starcoder_ls.text.types import CompletionContext, Mode, OpenDocument, Suggestion

log = logging.getLogger(__name__)


class CompletionService:
    def __init__(
        self,
        settings: Settings,
        *,
        engine_factory: EngineFactory = load_engine,
        current_version: Callable[[str], int | None],
        on_status: Callable[[ModelStatus], None] = lambda status: None,
        model: ModelHandle | None = None,
    ) -> None:
        """`model`: a model shared with other services (one per TCP client, `lsp/shared_model.py`),
        which then reports to its own listener; None: a model of this service's own."""
        self._settings = settings
        self._current_version = current_version
        self.model: ModelHandle = model or Model(
            engine_factory, label=model_label(settings), on_status=on_status
        )
        self.scheduler = Scheduler(debounce_ms=settings.debounce)
        self.cache = CompletionCache()
        self.stats = ServiceStats()
        self.prefetches = Prefetches(self.scheduler)
        self.failures = Failures(clock=self.scheduler.now, back_off=self.model.back_off)
        self.calls = EngineCalls(self.model, self.scheduler, self.failures, self.stats)
        self.flights = Flights(self.scheduler, self.cache, self.stats, current_version)
        self._ids = itertools.count(1)

    @property
    def settings(self) -> Settings:
        """The current settings; a request keeps the ones it started with (`Job.settings`)."""
        return self._settings

    @property
    def status(self) -> ModelStatus:
        return self.model.status

    async def load(self, progress: ProgressCallback | None = None) -> ModelStatus:
        """(Re)load the model for the current settings; every cached answer was the old one's."""
        self._clear_cache()
        self.failures.forget()
        return await self.model.load(self._settings, progress)

    def update_settings(self, settings: Settings) -> bool:
        """Adopt new settings; True when the model must be reloaded."""
        old = self._settings
        reload = settings.model_key != old.model_key
        # Typed-ahead answers reuse the last choices whatever the settings, so a change that
        # shapes generation forgets them; the cache holds text before post-processing, so
        # changing only how that is done keeps it.
        post_processing = {"postprocess": old.postprocess, "disabled_filters": old.disabled_filters}
        if dataclasses.replace(settings, **post_processing) != old:
            self._clear_cache()
        self._settings = settings
        self.scheduler.debounce_ms = settings.debounce
        self.model.set_enabled(settings.enabled)
        return reload

    def share_request_ids(self, ids: Iterator[int]) -> None:
        """Number requests from `ids`, which other services writing to the same log (one
        per TCP client) use too, so that a request id in the log names one request."""
        self._ids = ids

    def shutdown(self) -> None:
        self.prefetches.cancel()
        self.flights.cancel()
        self.model.shutdown()

    def _clear_cache(self) -> None:
        self.cache.clear()
        self.prefetches.forget_fills()
        self.flights.cancel()

    # -- documents -------------------------------------------------------------------

    def document_changed(self, uri: str, version: int) -> None:
        self.scheduler.document_changed(uri, version)
        self.prefetches.document_changed(uri, version)

    def document_closed(self, uri: str) -> None:
        self.scheduler.document_closed(uri)
        self.prefetches.document_closed(uri)
        self.cache.forget(uri)
        self.flights.forget(uri, "the document closed")

    # -- completion -----------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def not_ready(self) -> str | None:
        """Why the model cannot generate now, or None when it can."""
        if self.model.engine is not None:
            return None
        status = self.model.status
        return f"model not ready: {status.state} {status.message}"

    def start_job(
        self,
        rid: int,
        settings: Settings,
        ctx: CompletionContext,
        mode: Mode,
        request: CompletionRequest | None = None,
    ) -> Job:
        """The one place a `Job` is made. A request's ticket supersedes its document's older
        one (`Scheduler.begin`); without a request (a prefetch) it supersedes none and none
        supersedes it: its owner cancels it."""
        begin = self.scheduler.detached if request is None else self.scheduler.begin
        return Job(
            id=rid,
            settings=settings,
            ctx=ctx,
            mode=mode,
            ticket=begin(ctx.uri, ctx.version, rid),
            invoked=request is not None and request.invoked,
            selected=None if request is None else request.selected,
            keeps=settings.keep_typed_generation
            and request is not None
            and not request.invoked
            and request.selected is None,
        )

    async def complete(self, request: CompletionRequest) -> Answer:
        """Suggestions for one request; none whenever there is nothing worth showing.

        Every early return logs its reason at info level (never the document text).
        Refusals come from the cheapest facts first: settings and the document's size
        and bytes, then the cursor's context, then the trigger, then the model. A model
        still loading is waited for, as long as no newer request supersedes this one.
        """
        rid = self.next_id()
        settings = self._settings
        self.stats.requests += 1
        reason = refusal(request, settings)
        if reason is not None:
            return self._nothing(rid, reason, None)
        located = locate(request)
        ctx = located if request.selected is None else apply_selected(located, request.selected)
        mode = trigger.decide(ctx, multiline=settings.multiline)
        if mode is Mode.SKIP:
            return self._nothing(rid, "no completion makes sense at this position", located)
        if self.model.engine is None and not self.model.loading:
            return self._nothing(rid, self.not_ready() or "", located)

        joins = self.prefetches.meet(ctx)
        job = self.start_job(rid, settings, ctx, mode, request)
        try:
            suggestions = await self._answer(job, request.other_documents, joins)
        except asyncio.CancelledError:
            self.scheduler.cancel(job.ticket)
            log.info("request %d cancelled by the client", rid)
            raise
        finally:
            self.scheduler.finish(job.ticket)
        if suggestions:
            self.stats.suggested += 1
        return Answer(ctx=located, suggestions=suggestions)

    async def _answer(
        self,
        job: Job,
        other_documents: Callable[[], Iterable[OpenDocument]],
        joins: asyncio.Task[None] | None,
    ) -> list[Suggestion]:
        """`joins`: the prefetch computing this very place, waited for rather than repeated.
        An engine failure is `failures.py`'s to decide: raised (and shown) or nothing."""
        engine = await self._engine(job)
        if isinstance(engine, str):
            return self._no(job, engine)
        if joins is not None:
            log.info("request %d waits for the prefetch of its place", job.id)
            if not await self.scheduler.wait_for(job.ticket, lambda: asyncio.shield(joins)):
                return self._no(job, "superseded while its prefetch finished")
        ctx = job.ctx
        typed = self.cache.typed_ahead(ctx.uri, ctx.prefix, ctx.suffix)
        if typed:
            self.stats.typed_ahead_hits += 1
            if self.prefetches.claim_memory(ctx.uri):
                self.stats.prefetch_hits += 1
            log.info("request %d answered from typed-ahead", job.id)
            return self._finish(job, typed)
        adopted = await self.flights.adopted(job)
        if isinstance(adopted, str):
            return self._no(job, adopted)
        if adopted is not None:
            return self._finish(job, adopted)
        if not await self.scheduler.debounce(job.ticket, skip=job.invoked):
            return self._no(job, "superseded while debouncing")
        try:
            found = await self.choices(job, other_documents)
        except Unanswered as failure:
            error = self.failures.failed(failure, watched=True)
            if error is not None:
                await show(self.model, error)
            return self._no(job, failure.reason)
        if isinstance(found, str):
            return self._no(job, found)
        return self._finish(job, found.texts)

    async def choices(
        self, job: Job, other_documents: Callable[[], Iterable[OpenDocument]]
    ) -> Choices | str:
        """The model's choices for `job`, from the caches where they have them; or why there
        are none (superseded meanwhile, the document moved on). Whoever asks decides what
        to do with them: a request post-processes and answers (`complete`), a prefetch
        remembers them (`prefetch.py`). Raises `Unanswered` when the engine gives no answer.
        """
        engine = await self._engine(job)
        if isinstance(engine, str):
            return engine
        started = time.perf_counter()
        others: tuple[OpenDocument, ...] = ()
        if job.settings.cross_file_context:
            others = tuple(other_documents())
        prompt = await self.model.call(_build_prompt, engine, job.ctx, job.settings, others)
        prompt_ms = (time.perf_counter() - started) * 1000
        log.debug("request %d prompt: %r", job.id, prompt.text)

        found = await self._generate(job, engine, prompt)
        if isinstance(found, str):
            return found
        if not self.scheduler.is_current(job.ticket, self._current_version(job.ctx.uri)):
            return "the document changed while generating"
        log.info(
            "request %d: %s, %d prompt tokens, build_prompt_ms=%.1f, total_ms=%.1f",
            job.id,
            job.mode.value,
            prompt.tokens,
            prompt_ms,
            (time.perf_counter() - started) * 1000,
        )
        return found

    async def _engine(self, job: Job) -> Engine | str:
        """The engine, once a load under way ends; or why there is none."""
        engine = self.model.engine
        if engine is not None:
            return engine
        log.info("request %d waits for the model to load", job.id)
        if not await self.scheduler.wait_for(job.ticket, self.model.loaded):
            return "superseded while the model loaded"
        return self.model.engine or self.not_ready() or ""

    async def _generate(self, job: Job, engine: Engine, prompt: Prompt) -> Choices | str:
        """The choices of every planned call, from the exact cache where it has them; or why
        there are none (cancelled meanwhile), and then nothing is cached."""
        texts: list[str] = []
        stored: list[Hashable] = []
        for call in plan_calls(job.ctx, prompt, job.mode, job.settings, invoked=job.invoked):
            key = make_key(prompt.text, **dataclasses.asdict(call))
            cached = self.cache.get(key) if call.temperature == 0 else None
            if cached is not None:
                self.stats.cache_hits += 1
                if self.prefetches.claim_key(job.ctx.uri, key):
                    self.stats.prefetch_hits += 1
                log.info("request %d: cache hit", job.id)
                texts.extend(cached)
                continue
            run = functools.partial(self.calls.generate, engine, prompt)
            streams = getattr(engine, "streams_text", False)
            result = await self.flights.generate(job, call, key, run, streams=streams)
            if result is None or result.cancelled or job.ticket.cancelled:
                return "superseded or cancelled during generation"
            answer = tuple(choice.text for choice in result.choices)
            log.info(
                "request %d: generated %s tokens in %.0f ms (%s)",
                job.id,
                "/".join(str(c.tokens) for c in result.choices),
                result.generate_ms,
                "/".join(c.stop_reason for c in result.choices),
            )
            if call.temperature == 0:
                self.cache.put(key, answer)
                stored.append(key)
            texts.extend(answer)
        return Choices(tuple(texts), tuple(stored))

    def _finish(self, job: Job, choices: tuple[str, ...]) -> list[Suggestion]:
        ctx, settings = job.ctx, job.settings
        suggestions: list[Suggestion] = []
        for text in choices:
            skip = settings.disabled_filters
            if settings.postprocess and line_end.starts_below(text, ctx, job.mode):
                suggestion = line_end.below(text, ctx, multiline=settings.multiline, skip=skip)
            elif settings.postprocess:
                suggestion = postprocess.run(text, ctx, job.mode, skip=skip)
            else:
                suggestion = (
                    Suggestion(text=text, character=ctx.character, end_character=ctx.character)
                    if text
                    else None
                )
            if suggestion is not None and suggestion not in suggestions:
                suggestions.append(suggestion)
        self.cache.remember(ctx.uri, ctx.prefix, ctx.suffix, choices)
        self.prefetches.remembered(ctx.uri, by_prefetch=False)
        if job.selected is not None:
            suggestions = [over_selection(s, job.selected) for s in suggestions]
        if not suggestions:
            return self._no(job, f"all {len(choices)} choices were filtered out")
        return suggestions

    def prefetch(self, request: CompletionRequest) -> asyncio.Task[None] | None:
        """The completion at `request`'s place computed in the background (`prefetch.py`)."""
        return self.prefetches.begin(self, request)

    @staticmethod
    def _no(job: Job, reason: str) -> list[Suggestion]:
        log.info("request %d: no completion: %s", job.id, reason)
        return []

    @staticmethod
    def _nothing(rid: int, reason: str, ctx: CompletionContext | None) -> Answer:
        log.info("request %d: no completion: %s", rid, reason)
        return Answer(ctx=ctx)
