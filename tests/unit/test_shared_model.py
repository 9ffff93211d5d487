"""A TCP client's handle on the shared model (`lsp/shared_model.py`) with an engine that runs
on the event loop (a remote engine): the client's service awaits its `generate` on the
loop, as with a model of its own, and cancelling the request cancels the call at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import (
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    GenerationResult,
)
from starcoder_ls.engine.fim import PREFIX_ONLY
from starcoder_ls.lsp.shared_model import SharedModel
from tests.support.fake_engine import request_from


class LoopEngine:
    """An engine of the remote kind: `runs_on_loop`, and `generate` a coroutine."""

    runs_on_loop = True

    def __init__(self, *, hold: bool = False) -> None:
        self.info = EngineInfo(model="loop", template=PREFIX_ONLY, context_window=2048)
        self.hold = hold
        self.threads: list[int] = []
        self.entered = asyncio.Event()
        self.cancelled = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: object = None,
    ) -> GenerationResult:
        self.threads.append(threading.get_ident())
        if self.hold:
            self.entered.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        choice = Generation(text="sum(xs)", tokens=3, stop_reason="stop")
        return GenerationResult(choices=(choice,), prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


@asynccontextmanager
async def client_service(engine: LoopEngine) -> AsyncIterator[CompletionService]:
    """One TCP client's service, on a model shared as `tcp.TcpHost` shares it."""
    settings = Settings(debounce_ms=0)
    shared = SharedModel(settings, lambda settings, progress: engine)
    service = CompletionService(
        settings,
        engine_factory=lambda settings, progress: engine,
        current_version=lambda uri: 1,
        model=shared.attach(lambda status: None),
    )
    try:
        assert (await service.load()).state == "ready"
        yield service
    finally:
        service.shutdown()
        shared.shutdown()


async def test_a_client_awaits_an_engine_that_runs_on_the_loop_on_the_loop() -> None:
    engine = LoopEngine()
    async with client_service(engine) as service:
        assert getattr(service.model.engine, "runs_on_loop", False)
        answer = await service.complete(request_from("def f(xs):\n    return █\n", invoked=True))
    assert [s.text for s in answer.suggestions] == ["sum(xs)"]
    assert engine.threads and set(engine.threads) == {threading.get_ident()}


async def test_cancelling_a_clients_request_cancels_the_engines_call_at_once() -> None:
    engine = LoopEngine(hold=True)
    async with client_service(engine) as service:
        request = request_from("def f(xs):\n    return █\n", invoked=True)
        task = asyncio.ensure_future(service.complete(request))
        await asyncio.wait_for(engine.entered.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert engine.cancelled


class DownEngine(LoopEngine):
    """A serving engine that is down: every call fails, saying when to ask again."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def generate(
        self, prompt: str, params: GenerationParams, **_: object
    ) -> GenerationResult:
        self.calls += 1
        raise EngineError("vLLM at http://gpu:8000 refused the connection", retry_after_s=30.0)


async def test_a_down_engine_seen_by_one_client_is_not_asked_by_the_others() -> None:
    """The back-off is the engine's: a second editor on the same `--tcp` server does not
    send its own requests to a server the first one just found down."""
    engine = DownEngine()
    settings = Settings(debounce_ms=0)
    shared = SharedModel(settings, lambda settings, progress: engine)
    services = [
        CompletionService(
            settings,
            engine_factory=lambda settings, progress: engine,
            current_version=lambda uri: 1,
            model=shared.attach(lambda status: None),
        )
        for _ in range(2)
    ]
    try:
        for service in services:
            assert (await service.load()).state == "ready"
        first, second = services
        assert first.model.back_off is second.model.back_off
        request = request_from("def f(xs):\n    return █\n", invoked=True)
        with pytest.raises(EngineError, match="refused the connection"):
            await first.complete(request)
        assert engine.calls == 1
        answer = await second.complete(request_from("def g(ys):\n    return █\n", invoked=True))
        assert answer.suggestions == []
        assert engine.calls == 1, "the second client asked an engine that is backing off"
    finally:
        for service in services:
            service.shutdown()
        shared.shutdown()
