"""An engine that runs on the event loop (`runs_on_loop`, as the remote one does): the
service awaits it there, without the model's worker thread; a newer request cancels its
task at once; its errors take the one error path (`completion/failures.py`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
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
from tests.support.fake_engine import request_from

ADD = "def add(a, b):\n    return █\n"
SETTINGS = Settings(debounce_ms=0, postprocess=False, cross_file_context=False, prefetch=False)


def down(message: str, retry_after_s: float | None) -> EngineError:
    """An engine error as a remote engine that is down raises it."""
    return EngineError(message, retry=True, retry_after_s=retry_after_s)


class LoopEngine:
    """Answers on the event loop; `hold` keeps a call waiting until `release` is set."""

    runs_on_loop = True

    def __init__(self) -> None:
        self.info = EngineInfo(model="looped", template=PREFIX_ONLY, context_window=2048)
        self.threads: list[threading.Thread] = []
        self.calls = 0
        self.cancelled = 0
        self.hold = False
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail: Callable[[], EngineError] | None = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> GenerationResult:
        self.calls += 1
        self.threads.append(threading.current_thread())
        if self.fail is not None:
            raise self.fail()
        if self.hold:
            self.entered.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        choice = Generation(text=f"a + b  # {self.calls}", tokens=4, stop_reason="stop")
        return GenerationResult(choices=(choice,), prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


@asynccontextmanager
async def serving(engine: LoopEngine) -> AsyncIterator[CompletionService]:
    service = CompletionService(
        SETTINGS, engine_factory=lambda settings, progress: engine, current_version=lambda u: 1
    )
    try:
        assert (await service.load()).state == "ready"
        yield service
    finally:
        service.shutdown()


async def texts(service: CompletionService, marked: str = ADD) -> list[str]:
    answer = await asyncio.wait_for(service.complete(request_from(marked)), 30)
    return [s.text for s in answer.suggestions]


async def test_it_runs_on_the_event_loop_not_the_worker_thread() -> None:
    engine = LoopEngine()
    async with serving(engine) as service:
        assert await texts(service) == ["a + b  # 1"]
        worker = service.model._worker.thread  # type: ignore[attr-defined]
    assert engine.threads == [threading.current_thread()]
    assert worker not in engine.threads
    assert service.stats.model_calls == 1 and service.stats.generated_tokens == 4


async def test_a_newer_request_cancels_its_task_at_once() -> None:
    engine = LoopEngine()
    engine.hold = True
    async with serving(engine) as service:
        first = asyncio.ensure_future(service.complete(request_from(ADD)))
        await asyncio.wait_for(engine.entered.wait(), 30)
        engine.hold = False
        second = await texts(service, "def add(a, b):\n    return a█\n")
        assert engine.cancelled == 1, "the superseded call's task was cancelled"
        assert (await asyncio.wait_for(first, 30)).suggestions == []
    assert second == ["a + b  # 2"]
    assert not engine.release.is_set(), "nothing let the first call go on: it was cancelled"


async def test_a_client_cancel_cancels_its_task() -> None:
    engine = LoopEngine()
    engine.hold = True
    async with serving(engine) as service:
        request = asyncio.ensure_future(service.complete(request_from(ADD)))
        await asyncio.wait_for(engine.entered.wait(), 30)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await asyncio.sleep(0)
        assert engine.cancelled == 1


async def test_its_error_is_shown_once_and_the_back_off_holds_the_engine() -> None:
    engine = LoopEngine()
    now = [0.0]
    message = "vLLM at http://gpu:8000 returned 503: Loading model"
    engine.fail = lambda: down(message, retry_after_s=10.0)
    async with serving(engine) as service:
        service.failures.clock = lambda: now[0]
        with pytest.raises(EngineError, match="503: Loading model"):
            await texts(service)
        assert (service.status.state, service.status.message) == ("error", message)

        assert await texts(service) == [], "within the back-off: nothing, not asked"
        assert engine.calls == 1

        now[0] = 11.0
        assert await texts(service) == [], "asked again, the same error: told already"
        assert engine.calls == 2 and service.status.state == "error"

        engine.fail = None
        now[0] = 30.0
        assert await texts(service) == ["a + b  # 3"]
        assert service.status.state == "ready"
    assert service.stats.model_calls == 1, "failed calls are not counted"
