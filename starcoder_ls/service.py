"""The completion pipeline and the model's life cycle, with no LSP in sight.

`server.py` turns requests into `CompletionRequest`s and results into LSP types; everything
in between happens here, as plain calls on plain data (see ARCHITECTURE.md):
trigger -> scheduler -> prompt -> engine (worker thread) -> postprocess.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starcoder_ls import crossfile, postprocess, trigger
from starcoder_ls.cache import CompletionCache, digest, make_key
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import Engine, EngineError, GenerationParams, ProgressCallback
from starcoder_ls.engine.worker import ModelWorker
from starcoder_ls.prompt import Prompt, build_prompt
from starcoder_ls.scheduler import Scheduler, Ticket
from starcoder_ls.types import CompletionContext, Mode, Suggestion

log = logging.getLogger(__name__)

EngineFactory = Callable[..., Engine]
"""`LocalEngine.load`'s signature: (model, *, device, dtype, template, context_window, progress)."""

ALTERNATIVES_TEMPERATURE = 0.7
"""Sampling temperature for the extra choices of an invoked completion when the setting is
greedy: greedy decoding has only one answer, and the first choice stays the greedy one."""


@dataclass(frozen=True)
class ModelStatus:
    state: str
    """"loading", "ready", "error" or "disabled"."""
    model: str
    message: str = ""
    device: str = ""
    dtype: str = ""
    template: str = ""

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class Selected:
    """The item selected in the editor's completion popup (`selectedCompletionInfo`).

    The suggestion must extend `text` over [start, end) of the cursor line.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class CompletionRequest:
    ctx: CompletionContext
    invoked: bool = False
    """Explicitly asked for: no debounce, up to `max_suggestions` choices."""
    selected: Selected | None = None


def model_label(model: str | None) -> str:
    return model or "SmolLM2-135M (embedded)"


_LINE_STARTS = string.ascii_letters + "_#@\"'`"
"""How a Python line can start that is neither indentation nor a closing bracket."""


def _suffix_stops(ctx: CompletionContext | None, prompt: Prompt) -> tuple[str, ...]:
    """Where to stop a model that never saw the text after the cursor (prefix-only).

    In Python a line indented less than the blank cursor line has left the cursor's
    block, which `limit_scope_by_indentation` cuts anyway: stopping there changes no
    suggestion and saves the tokens, most of the wait on a CPU (3x less on HumanEval
    multi-line holes, same pass@1; docs/quality.md). A stop at the suffix's next line
    written whole was tried as well and removed: it never fired in those runs.
    """
    if ctx is None or prompt.suffix:
        return ()
    indent, unit = ctx.line_prefix, ctx.indent_unit
    blank = not (indent.strip() or ctx.line_suffix.strip())
    if ctx.language_id != "python" or not indent or not blank:
        return ()
    levels = len(indent) // len(unit)
    outer = [unit * level for level in range(levels)] if indent == unit * levels else [""]
    return tuple(f"\n{lead}{start}" for lead in outer for start in _LINE_STARTS)


def _block_stops(ctx: CompletionContext, prompt: Prompt, settings: Settings) -> tuple[str, ...]:
    """`_suffix_stops`, unless the filter whose cut they anticipate is disabled."""
    if "limit_scope_by_indentation" in settings.disabled_filters:
        return ()
    return _suffix_stops(ctx, prompt)


def _sampling_seed(prompt: str) -> int:
    """A seed from the prompt: asking again at the same place shows the same alternatives
    (as cycling through them expects), and quality runs are reproducible."""
    return int.from_bytes(digest(prompt)[:4])


def _apply_selected(ctx: CompletionContext, sel: Selected) -> CompletionContext:
    """The context as if the selected popup item were already inserted."""
    line_start = len(ctx.prefix) - ctx.character
    prefix = ctx.prefix[: line_start + sel.start] + sel.text
    suffix = ctx.suffix[max(sel.end - ctx.character, 0) :]
    return dataclasses.replace(
        ctx, prefix=prefix, suffix=suffix, character=sel.start + len(sel.text)
    )


class CompletionService:
    def __init__(
        self,
        settings: Settings,
        *,
        engine_factory: EngineFactory,
        current_version: Callable[[str], int | None],
        on_status: Callable[[ModelStatus], None] = lambda status: None,
    ) -> None:
        self.settings = settings
        self._engine_factory = engine_factory
        self._current_version = current_version
        self._on_status = on_status
        self._worker = ModelWorker()
        self._engine: Engine | None = None
        self._load_generation = 0
        self.scheduler = Scheduler(debounce_ms=settings.debounce_ms)
        self.cache = CompletionCache()
        self._ids = itertools.count(1)
        self.status = ModelStatus("loading", model_label(settings.model))

    # -- model life cycle -------------------------------------------------------------

    def _set_status(self, status: ModelStatus) -> None:
        self.status = status
        log.info("model %s: %s %s", status.model, status.state, status.message)
        self._on_status(status)

    async def load(self, progress: ProgressCallback | None = None) -> ModelStatus:
        """(Re)load the model for the current settings on the worker thread."""
        settings = self.settings
        label = model_label(settings.model)
        self._load_generation += 1
        generation = self._load_generation
        self._engine = None
        self.cache.clear()
        self._set_status(ModelStatus("loading", label, "loading"))
        started = time.perf_counter()
        try:
            engine = await asyncio.wrap_future(
                self._worker.submit(self._replace_engine, settings, progress)
            )
        except EngineError as exc:
            status = ModelStatus("error", label, str(exc))
        except Exception as exc:  # a loader bug must not take the server down
            log.exception("loading %s failed", label)
            status = ModelStatus("error", label, f"{type(exc).__name__}: {exc}")
        else:
            if generation != self._load_generation:
                return self.status
            self._engine = engine
            info = engine.info
            seconds = time.perf_counter() - started
            status = ModelStatus(
                "ready",
                info.model,
                f"loaded in {seconds:.1f} s",
                device=info.device,
                dtype=info.dtype,
                template=info.template.name,
            )
        if generation == self._load_generation:
            self._set_status(status)
        return self.status

    def _replace_engine(self, settings: Settings, progress: ProgressCallback | None) -> Engine:
        old, self._engine = self._engine, None
        if old is not None:
            old.close()
        return self._engine_factory(
            settings.model,
            device=settings.device,
            dtype=settings.dtype,
            template=settings.fim_template,
            context_window=settings.context_window,
            progress=progress,
        )

    def update_settings(self, settings: Settings) -> bool:
        """Adopt new settings; True when the model must be reloaded."""
        reload = settings.model_key != self.settings.model_key
        # Typed-ahead answers reuse the last choices whatever the settings, so a change that
        # shapes generation forgets them; the cache holds text before post-processing, so
        # changing only how that is done keeps it.
        post_processing = {
            "postprocess": self.settings.postprocess,
            "disabled_filters": self.settings.disabled_filters,
        }
        if dataclasses.replace(settings, **post_processing) != self.settings:
            self.cache.clear()
        self.settings = settings
        self.scheduler.debounce_ms = settings.debounce_ms
        if not settings.enabled:
            self._set_status(dataclasses.replace(self.status, state="disabled"))
        elif self.status.state == "disabled":
            self._set_status(
                dataclasses.replace(self.status, state="ready" if self._engine else "loading")
            )
        return reload

    def shutdown(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            self._worker.submit(engine.close)
        self._worker.shutdown(wait=False)

    # -- documents -------------------------------------------------------------------

    def document_changed(self, uri: str, version: int) -> None:
        self.scheduler.document_changed(uri, version)

    def document_closed(self, uri: str) -> None:
        self.scheduler.document_closed(uri)
        self.cache.forget(uri)

    def cancel(self, ticket: Ticket) -> None:
        self.scheduler.cancel(ticket)

    # -- completion -----------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> list[Suggestion]:
        """Suggestions for one request; [] whenever there is nothing worth showing.

        Every early return logs its reason at info level (never the document text).
        """
        rid = next(self._ids)
        ctx = request.ctx
        settings = self.settings
        if not settings.enabled:
            return self._nothing(rid, "completions are disabled")
        if not settings.language_enabled(ctx.language_id):
            return self._nothing(rid, f"language {ctx.language_id!r} is not enabled")
        if request.selected is not None:
            ctx = _apply_selected(ctx, request.selected)
        mode = trigger.decide(ctx, multiline=settings.multiline)
        if mode is Mode.SKIP:
            return self._nothing(rid, "no completion makes sense at this position")
        engine = self._engine
        if engine is None:
            return self._nothing(rid, f"model not ready: {self.status.state} {self.status.message}")

        ticket = self.scheduler.begin(ctx.uri, ctx.version)
        try:
            return await self._complete(rid, request, ctx, mode, engine, ticket)
        except asyncio.CancelledError:
            ticket.cancel.set()
            log.info("request %d cancelled by the client", rid)
            raise
        finally:
            self.scheduler.finish(ticket)

    async def _complete(
        self,
        rid: int,
        request: CompletionRequest,
        ctx: CompletionContext,
        mode: Mode,
        engine: Engine,
        ticket: Ticket,
    ) -> list[Suggestion]:
        typed = self.cache.typed_ahead(ctx.uri, ctx.prefix, ctx.suffix)
        if typed:
            log.info("request %d answered from typed-ahead", rid)
            return self._finish(rid, ctx, mode, typed, request)

        if not await self.scheduler.debounce(ticket, skip=request.invoked):
            return self._nothing(rid, "superseded while debouncing")

        settings = self.settings
        started = time.perf_counter()
        prompt: Prompt = await self._on_worker(self._build_prompt, engine, ctx, settings)
        prompt_ms = (time.perf_counter() - started) * 1000
        log.debug("request %d prompt: %r", rid, prompt.text)

        choices = await self._generate(
            rid, engine, prompt, mode, settings, ticket, request.invoked, ctx
        )
        if choices is None:
            return self._nothing(rid, "superseded or cancelled during generation")
        if not self.scheduler.is_current(ticket, self._current_version(ctx.uri)):
            return self._nothing(rid, "the document changed while generating")
        log.info(
            "request %d: %s, %d prompt tokens, build_prompt_ms=%.1f, total_ms=%.1f",
            rid,
            mode.value,
            prompt.tokens,
            prompt_ms,
            (time.perf_counter() - started) * 1000,
        )
        return self._finish(rid, ctx, mode, choices, request)

    async def _generate(
        self,
        rid: int,
        engine: Engine,
        prompt: Prompt,
        mode: Mode,
        settings: Settings,
        ticket: Ticket,
        invoked: bool,
        ctx: CompletionContext,
    ) -> tuple[str, ...] | None:
        params = GenerationParams(
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            stop=("\n",) if mode is Mode.SINGLE_LINE else _block_stops(ctx, prompt, settings),
            token_healing=settings.token_healing,
        )
        wanted = settings.max_suggestions if invoked else 1
        calls = [params]
        if settings.temperature > 0:
            calls = [dataclasses.replace(params, n=wanted)]
        elif wanted > 1:
            calls.append(
                dataclasses.replace(
                    params,
                    n=wanted - 1,
                    temperature=ALTERNATIVES_TEMPERATURE,
                    seed=_sampling_seed(prompt.text),
                )
            )
        choices: list[str] = []
        for call in calls:
            key = make_key(prompt.text, **dataclasses.asdict(call))
            cached = self.cache.get(key) if call.temperature == 0 else None
            if cached is not None:
                log.info("request %d: cache hit", rid)
                choices.extend(cached)
                continue
            result = await self._on_worker(engine.generate, prompt.text, call, ticket.cancel)
            if result.cancelled or ticket.cancel.is_set():
                return None
            texts = tuple(choice.text for choice in result.choices)
            log.info(
                "request %d: generated %s tokens in %.0f ms (%s)",
                rid,
                "/".join(str(c.tokens) for c in result.choices),
                result.generate_ms,
                "/".join(c.stop_reason for c in result.choices),
            )
            if call.temperature == 0:
                self.cache.put(key, texts)
            choices.extend(texts)
        return tuple(choices)

    def _finish(
        self,
        rid: int,
        ctx: CompletionContext,
        mode: Mode,
        choices: tuple[str, ...],
        request: CompletionRequest,
    ) -> list[Suggestion]:
        suggestions: list[Suggestion] = []
        for text in choices:
            if self.settings.postprocess:
                suggestion = postprocess.run(text, ctx, mode, skip=self.settings.disabled_filters)
            else:
                suggestion = (
                    Suggestion(text=text, character=ctx.character, end_character=ctx.character)
                    if text
                    else None
                )
            if suggestion is not None and suggestion not in suggestions:
                suggestions.append(suggestion)
        self.cache.remember(ctx.uri, ctx.prefix, ctx.suffix, choices)
        if request.selected is not None:
            suggestions = [self._over_selection(s, request.selected) for s in suggestions]
        if not suggestions:
            return self._nothing(rid, f"all {len(choices)} choices were filtered out")
        return suggestions

    @staticmethod
    def _over_selection(suggestion: Suggestion, sel: Selected) -> Suggestion:
        start = sel.start + len(sel.text)
        return Suggestion(
            text=sel.text + suggestion.text,
            character=sel.start,
            end_character=sel.end + (suggestion.end_character - start),
        )

    @staticmethod
    def _nothing(rid: int, reason: str) -> list[Suggestion]:
        log.info("request %d: no completion: %s", rid, reason)
        return []

    def _build_prompt(self, engine: Engine, ctx: CompletionContext, settings: Settings) -> Prompt:
        info = engine.info
        window = settings.context_window or info.context_window
        return build_prompt(
            prefix=ctx.prefix,
            suffix=ctx.suffix,
            template=info.template,
            count_tokens=engine.count_tokens,
            context_window=window,
            max_new_tokens=min(settings.max_new_tokens, window // 2),
            prefix_share=settings.prefix_share,
            filename=ctx.path,
            use_fim=settings.fim,
            snippets=crossfile.select_snippets(ctx) if settings.cross_file_context else (),
            snippet_reserve=crossfile.reserve(window),
        )

    async def _on_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self._worker.submit(fn, *args))
