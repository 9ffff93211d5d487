"""One engine call, wherever the engine runs, and what it leaves in the stats.

An engine that runs on the event loop (`runs_on_loop`, a remote one: I/O, not compute) is
awaited there as a task of its own, which the ticket's cancellation cancels at once. Any
other is called on the model's worker thread (`Model.call`) and checks the ticket's flag
at every decode step. Either way an engine error comes back to the loop, where
`failures.py` decides what it becomes, and the stats are written on the loop only (the
worker posts its results there).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starcoder_ls.completion.failures import Failures, Unanswered
from starcoder_ls.completion.lifecycle import ModelHandle
from starcoder_ls.completion.scheduler import Scheduler, Ticket
from starcoder_ls.completion.stats import ServiceStats
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.base import (
    Engine,
    EngineError,
    GenerationParams,
    GenerationResult,
    TextCallback,
)


class EngineCalls:
    """The service's engine calls: dispatch, back-off (`Failures.asking`) and counting."""

    def __init__(
        self, model: ModelHandle, scheduler: Scheduler, failures: Failures, stats: ServiceStats
    ) -> None:
        self._model = model
        self._scheduler = scheduler
        self._failures = failures
        self._stats = stats

    async def generate(
        self,
        engine: Engine,
        prompt: Prompt,
        call: GenerationParams,
        ticket: Ticket,
        on_text: TextCallback | None = None,
    ) -> GenerationResult | None:
        """One engine call: awaited on the event loop for an engine that runs there (its
        task cancelled with the ticket), else on the model's worker thread (which checks
        the ticket's flag). None when cancelled first; `Unanswered` when no answer came.
        `on_text` reaches only an engine that `streams_text` (base.Engine)."""
        self._failures.asking()
        text = {"on_text": on_text} if on_text and getattr(engine, "streams_text", False) else {}
        if getattr(engine, "runs_on_loop", False):
            outcome = await self._model.call(self._on_loop, engine, prompt, call, ticket, text)
        else:
            loop = asyncio.get_running_loop()
            count = functools.partial(loop.call_soon_threadsafe, self._stats.count_generation)
            cancel = ticket.cancel
            outcome = await self._model.call(_on_worker, engine, prompt, call, cancel, count, text)
        if isinstance(outcome, EngineError):
            raise Unanswered(outcome)
        if outcome is not None and not outcome.cancelled:
            self._failures.answered()
        return outcome

    async def _on_loop(
        self,
        engine: Any,
        prompt: Prompt,
        call: GenerationParams,
        ticket: Ticket,
        text: dict[str, TextCallback],
    ) -> GenerationResult | EngineError | None:
        def generate() -> Awaitable[GenerationResult]:
            return engine.generate(prompt.text, call, prompt_ids=prompt.ids, **text)

        try:
            result = await self._scheduler.run(ticket, generate)
        except EngineError as exc:
            return exc
        if result is not None:
            self._stats.count_generation(result)
        return result


def _on_worker(
    engine: Engine,
    prompt: Prompt,
    call: GenerationParams,
    cancel: threading.Event,
    count: Callable[[GenerationResult], object],
    text: dict[str, TextCallback],
) -> GenerationResult | EngineError:
    """On the model's worker thread. The result is counted (`count` posts it to the event
    loop) even when its request was cancelled meanwhile and nobody awaits it any more. An
    engine error is returned, not raised: `failures.py` decides what it becomes."""
    try:
        result = engine.generate(prompt.text, call, cancel, prompt_ids=prompt.ids, **text)
    except EngineError as exc:
        return exc
    with contextlib.suppress(RuntimeError):  # the loop closed: the server is ending
        count(result)
    return result
