"""The completion pipeline of one request, with no LSP in sight.

`server.py` hands in `CompletionRequest`s and turns `Answer`s into LSP types; in between,
as plain calls on plain data (see ARCHITECTURE.md): cheap refusals -> context -> trigger
-> scheduler -> prompt -> plan -> engine (worker thread) -> postprocess. The model's life
cycle is `lifecycle.Model`; the settings live here, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from starcoder_ls import postprocess
from starcoder_ls.completion import trigger
from starcoder_ls.completion.cache import CompletionCache, make_key
from starcoder_ls.completion.lifecycle import (
    EngineFactory,
    Model,
    ModelHandle,
    ModelStatus,
    load_engine,
    model_label,
)
from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.completion.prefetch import Prefetches, where_to_prefetch
from starcoder_ls.completion.request import Answer, CompletionRequest, Job, locate, refusal
from starcoder_ls.completion.scheduler import Scheduler, Ticket
from starcoder_ls.completion.selection import apply_selected, over_selection
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.config import Settings
from starcoder_ls.cursor import crossfile
from starcoder_ls.cursor.exclusions import deny_list
from starcoder_ls.cursor.prompt import Prompt, PromptSpec, build_prompt
from starcoder_ls.engine.base import (
    UNAVAILABLE,
    Engine,
    EngineError,
    GenerationParams,
    GenerationResult,
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
        """`model`: a model shared with other services (one per TCP client, `tcp.py`),
        which then reports to its own listener; None: a model of this service's own."""
        self._settings = settings
        self._current_version = current_version
        self.model: ModelHandle = model or Model(
            engine_factory, label=model_label(settings), on_status=on_status
        )
        self.scheduler = Scheduler(debounce_ms=settings.debounce)
        self.cache = CompletionCache()
        self.stats = ServiceStats()
        self.prefetches = Prefetches()
        self._ids = itertools.count(1)
        self._unshown: EngineError | None = None
        """An engine error only a prefetch saw, for the next request the engine does not
        answer to show: the engine raises each error once (a remote one then skips calls
        quietly while it backs off), and nobody sees what a prefetch raises."""

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
        self._unshown = None
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
        self.model.shutdown()

    def _clear_cache(self) -> None:
        self.cache.clear()
        self.prefetches.forget_fills()

    # -- documents -------------------------------------------------------------------

    def document_changed(self, uri: str, version: int) -> None:
        self.scheduler.document_changed(uri, version)
        self.prefetches.document_changed(uri, version)

    def document_closed(self, uri: str) -> None:
        self.scheduler.document_closed(uri)
        self.prefetches.document_closed(uri)
        self.cache.forget(uri)

    # -- completion -----------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Answer:
        """Suggestions for one request; none whenever there is nothing worth showing.

        Every early return logs its reason at info level (never the document text).
        Refusals come from the cheapest facts first: settings and the document's size
        and bytes, then the cursor's context, then the trigger, then the model. A model
        still loading is waited for, as long as no newer request supersedes this one.
        """
        rid = next(self._ids)
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
            return self._nothing(rid, self._not_ready(), located)

        joins = self.prefetches.meet(ctx)
        ticket = self.scheduler.begin(ctx.uri, ctx.version, rid)
        job = Job(
            id=rid,
            settings=settings,
            ctx=ctx,
            mode=mode,
            ticket=ticket,
            invoked=request.invoked,
            selected=request.selected,
        )
        try:
            suggestions = await self._complete(job, request.other_documents, joins=joins)
        except asyncio.CancelledError:
            ticket.cancel.set()
            log.info("request %d cancelled by the client", rid)
            raise
        finally:
            self.scheduler.finish(ticket)
        if suggestions:
            self.stats.suggested += 1
        return Answer(ctx=located, suggestions=suggestions)

    async def _complete(
        self,
        job: Job,
        other_documents: Callable[[], Iterable[OpenDocument]],
        *,
        joins: asyncio.Task[None] | None = None,
        prefetch: bool = False,
    ) -> list[Suggestion]:
        """`joins`: the prefetch computing this very place, waited for rather than
        repeated. A `prefetch` only fills the caches: it neither debounces (the editor has
        paused to accept) nor post-processes (nothing is shown)."""
        engine = self.model.engine
        if engine is None:
            log.info("request %d waits for the model to load", job.id)
            if not await self.scheduler.wait_for(job.ticket, self.model.loaded):
                return self._no(job, "superseded while the model loaded")
            engine = self.model.engine
            if engine is None:
                return self._no(job, self._not_ready())
        if joins is not None:
            log.info("request %d waits for the prefetch of its place", job.id)
            if not await self.scheduler.wait_for(job.ticket, lambda: asyncio.shield(joins)):
                return self._no(job, "superseded while its prefetch finished")
        ctx = job.ctx
        typed = self.cache.typed_ahead(ctx.uri, ctx.prefix, ctx.suffix)
        if typed and prefetch:
            return self._no(job, "the typed-ahead memory already answers here")
        if typed:
            self.stats.typed_ahead_hits += 1
            if self.prefetches.claim_memory(ctx.uri):
                self.stats.prefetch_hits += 1
            log.info("request %d answered from typed-ahead", job.id)
            return self._finish(job, typed)

        if not prefetch and not await self.scheduler.debounce(job.ticket, skip=job.invoked):
            return self._no(job, "superseded while debouncing")

        started = time.perf_counter()
        others: tuple[OpenDocument, ...] = ()
        if job.settings.cross_file_context:
            others = tuple(other_documents())
        prompt = await self.model.call(_build_prompt, engine, ctx, job.settings, others)
        prompt_ms = (time.perf_counter() - started) * 1000
        log.debug("request %d prompt: %r", job.id, prompt.text)

        choices = await self._generate(job, engine, prompt, prefetch=prefetch)
        if isinstance(choices, str):
            return self._no(job, choices)
        if not self.scheduler.is_current(job.ticket, self._current_version(ctx.uri)):
            return self._no(job, "the document changed while generating")
        log.info(
            "request %d: %s, %d prompt tokens, build_prompt_ms=%.1f, total_ms=%.1f",
            job.id,
            job.mode.value,
            prompt.tokens,
            prompt_ms,
            (time.perf_counter() - started) * 1000,
        )
        if prefetch:
            self.cache.remember(ctx.uri, ctx.prefix, ctx.suffix, choices)
            self.prefetches.remembered(ctx.uri, by_prefetch=True)
            return []
        return self._finish(job, choices)

    async def _generate(
        self, job: Job, engine: Engine, prompt: Prompt, *, prefetch: bool = False
    ) -> tuple[str, ...] | str:
        """The choices of every planned call, from the exact cache where it has them; or
        why there are none (cancelled meanwhile, or the engine gave no answer), and then
        nothing is cached."""
        choices: list[str] = []
        for call in plan_calls(job.ctx, prompt, job.mode, job.settings, invoked=job.invoked):
            key = make_key(prompt.text, **dataclasses.asdict(call))
            cached = self.cache.get(key) if call.temperature == 0 else None
            if cached is not None:
                self.stats.cache_hits += 1
                if self.prefetches.claim_key(job.ctx.uri, key):
                    self.stats.prefetch_hits += 1
                log.info("request %d: cache hit", job.id)
                choices.extend(cached)
                continue
            result = await self.model.call(
                self._counted_generate, engine, prompt, call, job.ticket.cancel, prefetch
            )
            if isinstance(result, EngineError):
                # Returned rather than raised, so that the status does not show it either.
                log.warning("request %d: prefetch: the engine failed; kept for a request", job.id)
                log.debug("request %d: prefetch: the engine failed: %s", job.id, result)
                return "the engine failed"
            if _unavailable(result):
                return "the engine was not asked: it is backing off after an error"
            if result.cancelled or job.ticket.cancel.is_set():
                return "superseded or cancelled during generation"
            texts = tuple(choice.text for choice in result.choices)
            log.info(
                "request %d: generated %s tokens in %.0f ms (%s)",
                job.id,
                "/".join(str(c.tokens) for c in result.choices),
                result.generate_ms,
                "/".join(c.stop_reason for c in result.choices),
            )
            if call.temperature == 0:
                self.cache.put(key, texts)
                if prefetch:
                    self.prefetches.stored(job.ctx.uri, key)
            choices.extend(texts)
        return tuple(choices)

    def _counted_generate(
        self,
        engine: Engine,
        prompt: Prompt,
        call: GenerationParams,
        cancel: threading.Event,
        prefetch: bool,
    ) -> GenerationResult | EngineError:
        """Runs on the worker thread and counts the call there, so a generation whose request
        the client cancelled meanwhile (the await is gone) still shows in the stats.

        A prefetch's engine error is returned and kept (`_unshown`): raised, it would be
        the one time the engine says so, to nobody. A request's own error or a whole
        answer makes it moot; a request the engine skips raises it instead."""
        try:
            result = engine.generate(prompt.text, call, cancel, prompt_ids=prompt.ids)
        except EngineError as exc:
            if prefetch:
                self._unshown = exc
                return exc
            self._unshown = None
            raise
        skipped = _unavailable(result)  # during a back-off: the engine was not asked
        if not skipped:
            self.stats.count_generation(result)
        if not result.cancelled:
            self._unshown = None
        elif not prefetch and self._unshown is not None and skipped:
            unshown, self._unshown = self._unshown, None
            raise unshown
        return result

    def _finish(self, job: Job, choices: tuple[str, ...]) -> list[Suggestion]:
        ctx, settings = job.ctx, job.settings
        suggestions: list[Suggestion] = []
        for text in choices:
            if settings.postprocess:
                suggestion = postprocess.run(text, ctx, job.mode, skip=settings.disabled_filters)
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

    # -- prefetch -------------------------------------------------------------------

    def prefetch(self, request: CompletionRequest) -> asyncio.Task[None] | None:
        """Compute in the background the automatic completion the editor will ask for at
        `request`'s place (right after an accepted suggestion), so that its request is
        answered from the caches; None when there is nothing to compute.

        Never shown and low priority: a real request at the same place waits for it, any
        other real request cancels it, as does a change of its document.
        """
        settings = self._settings
        not_ready = self._not_ready() if self.model.engine is None else None
        found = where_to_prefetch(request, settings, not_ready=not_ready)
        if isinstance(found, str):
            log.info("no prefetch: %s", found)
            return None
        ctx, mode = found
        rid = next(self._ids)
        ticket = Ticket(id=rid, key=ctx.uri, version=ctx.version, created=time.monotonic())
        job = Job(
            id=rid,
            settings=settings,
            ctx=ctx,
            mode=mode,
            ticket=ticket,
            invoked=False,
            selected=None,
        )
        self.stats.prefetches += 1
        log.info("request %d: prefetch after an accepted suggestion", rid)
        task = asyncio.get_running_loop().create_task(self._prefetch(job, request.other_documents))
        self.prefetches.start(ctx, ticket, task)
        return task

    async def _prefetch(
        self, job: Job, other_documents: Callable[[], Iterable[OpenDocument]]
    ) -> None:
        """No client waits for this one, so its failures end here, logged: a warning
        without the exception's text (an engine's message may quote the prompt), the rest
        at debug level. Nothing is shown: a request the user makes meets the same fault."""
        try:
            await self._complete(job, other_documents, prefetch=True)
        except asyncio.CancelledError:
            job.ticket.cancel.set()
            raise
        except Exception as exc:
            log.warning("request %d: prefetch failed (%s)", job.id, type(exc).__name__)
            log.debug("request %d: prefetch failed", job.id, exc_info=True)
        finally:
            self.prefetches.finish(job.ticket)

    def _not_ready(self) -> str:
        status = self.model.status
        return f"model not ready: {status.state} {status.message}"

    @staticmethod
    def _no(job: Job, reason: str) -> list[Suggestion]:
        log.info("request %d: no completion: %s", job.id, reason)
        return []

    @staticmethod
    def _nothing(rid: int, reason: str, ctx: CompletionContext | None) -> Answer:
        log.info("request %d: no completion: %s", rid, reason)
        return Answer(ctx=ctx)


def _unavailable(result: GenerationResult) -> bool:
    """A call the engine skipped (`UNAVAILABLE`): no answer, and no sign it works again."""
    return any(choice.stop_reason == UNAVAILABLE for choice in result.choices)


def _build_prompt(
    engine: Engine, ctx: CompletionContext, settings: Settings, others: tuple[OpenDocument, ...]
) -> Prompt:
    """Runs on the worker thread: counting tokens needs the engine's tokenizer."""
    info = engine.info
    window = settings.context_window or info.context_window
    snippets = (
        crossfile.select_snippets(
            dataclasses.replace(ctx, other_documents=others),
            excluded=deny_list(settings.excluded_files),
        )
        if others
        else ()
    )
    spec = PromptSpec(
        prefix=ctx.prefix,
        suffix=ctx.suffix,
        template=info.template,
        count_tokens=engine.count_tokens,
        encode=getattr(engine, "encode", None),
        context_window=window,
        max_new_tokens=min(settings.max_new_tokens, window // 2),
        prefix_share=settings.prefix_share,
        filename=ctx.path,
        use_fim=settings.fim,
        snippets=snippets,
        snippet_reserve=crossfile.reserve(window),
    )
    return build_prompt(spec)
