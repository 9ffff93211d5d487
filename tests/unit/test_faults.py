"""Faults injected into the engine, seen through the completion service.

Each must give the caller a clear error, show the status "error" with its message, and
let the next request either work again or get a clear error, never hang. Every await
on the service is bounded (`within`), so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from starcoder_ls.completion.lifecycle import ModelStatus
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineError, GenerationParams
from tests.support.fake_engine import FakeEngine, request_from

T = TypeVar("T")
ADD = "def add(a, b):\n    return █\n"
OTHER_URI = "file:///work/other.py"
THIRD_URI = "file:///work/third.py"
SETTINGS = Settings(debounce_ms=0)


async def within(awaitable: Awaitable[T]) -> T:
    """A hang is a failure; the bound is far above any honest answer."""
    return await asyncio.wait_for(awaitable, 60)


class OutOfMemoryError(RuntimeError):
    """Stands in for `torch.OutOfMemoryError` (a RuntimeError), without importing torch."""


class Faulty:
    """Answers "a + b", or raises what `fail` holds, once."""

    def __init__(self) -> None:
        self.fail: BaseException | None = None

    def __call__(self, prompt: str, params: GenerationParams) -> list[str]:
        fault, self.fail = self.fail, None
        if fault is not None:
            raise fault
        return ["a + b"]


class Served:
    """A service on a faulty fake engine, with every status it announced."""

    def __init__(self) -> None:
        self.faulty = Faulty()
        self.engine = FakeEngine(self.faulty)
        self.statuses: list[ModelStatus] = []
        self.service = CompletionService(
            SETTINGS,
            engine_factory=lambda settings, progress: self.engine,
            current_version=lambda uri: 1,
            on_status=self.statuses.append,
        )

    async def complete(self, uri: str = "file:///work/example.py") -> list[str]:
        """An automatic request: one generation (an invoked one samples alternatives too)."""
        answer = await within(self.service.complete(request_from(ADD, uri=uri)))
        return [s.text for s in answer.suggestions]

    @property
    def states(self) -> list[str]:
        return [status.state for status in self.statuses]


@pytest.fixture
async def served():
    served = Served()
    assert (await within(served.service.load())).state == "ready"
    yield served
    served.service.shutdown()


# -- faults during generation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            EngineError("out of memory generating 128 tokens x 1 from a 3-token prompt on cpu"),
            "out of memory generating 128 tokens x 1 from a 3-token prompt on cpu",
        ),
        (
            OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ),
        (ValueError("shape mismatch in layer 3"), "ValueError: shape mismatch in layer 3"),
    ],
)
async def test_a_failed_generation_errors_shows_error_and_the_next_request_recovers(
    served: Served, fault: Exception, message: str
) -> None:
    served.faulty.fail = fault
    with pytest.raises(type(fault)):
        await served.complete()
    status = served.service.status
    assert (status.state, status.message) == ("error", message)
    assert (status.model, status.template) == ("fake", "prefix-only")

    assert await served.complete(OTHER_URI) == ["a + b"]
    assert served.service.status.state == "ready"
    assert served.states[-3:] == ["ready", "error", "ready"]


async def test_a_failure_repeated_is_announced_once(served: Served) -> None:
    for _ in range(3):
        served.faulty.fail = EngineError("out of memory")
        with pytest.raises(EngineError):
            await served.complete()
    assert served.states.count("error") == 1


@pytest.mark.parametrize("fault", [SystemExit(3), KeyboardInterrupt()])
async def test_an_exit_raised_by_the_model_ends_the_request_not_the_server(
    served: Served, fault: BaseException
) -> None:
    served.faulty.fail = fault
    with pytest.raises(EngineError, match=f"the model raised {type(fault).__name__}"):
        await served.complete()
    assert served.service.status.state == "error"
    assert await served.complete(OTHER_URI) == ["a + b"]
    assert served.service.status.state == "ready"


async def test_a_failed_request_leaves_nothing_cached(served: Served) -> None:
    served.faulty.fail = EngineError("out of memory")
    with pytest.raises(EngineError):
        await served.complete()
    assert await served.complete() == ["a + b"]
    assert len(served.engine.calls) == 2


# -- a dead worker thread -----------------------------------------------------------------


THREAD_DIES = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
"""The worker's death is the point of these tests, not a stray exception."""


def kill_worker(service: CompletionService) -> None:
    """Make the worker's own loop fail, as a bug there would: it cannot unpack `None`."""
    service.model._worker._queue.put(None)


async def wait_dead(service: CompletionService) -> None:
    thread = service.model._worker.thread
    await within(asyncio.to_thread(thread.join))


@THREAD_DIES
async def test_a_worker_that_died_idle_is_replaced_by_the_next_request(served: Served) -> None:
    first = served.service.model._worker.thread
    kill_worker(served.service)
    await wait_dead(served.service)
    assert await served.complete() == ["a + b"]
    assert served.service.model._worker.thread is not first
    assert served.service.status.state == "ready"


@THREAD_DIES
async def test_a_request_queued_on_a_dying_worker_errors_and_the_next_recovers(
    served: Served,
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(prompt: str, params: GenerationParams) -> list[str]:
        started.set()
        release.wait(30)
        return ["a + b"]

    served.engine.reply = slow
    running = asyncio.ensure_future(served.complete())
    await within(asyncio.to_thread(started.wait))
    kill_worker(served.service)  # behind the running call
    queued = asyncio.ensure_future(served.complete(OTHER_URI))
    worker = served.service.model._worker
    while worker._queue.qsize() < 2:  # the poison, then the queued request's call
        await asyncio.sleep(0.01)
    release.set()

    assert await running == ["a + b"]
    with pytest.raises(EngineError, match="worker thread stopped") as raised:
        await within(queued)
    assert "the next request starts a new one" in str(raised.value)
    assert served.service.status.state == "error"
    assert "worker thread stopped" in served.service.status.message

    served.engine.reply = served.faulty
    served.service.cache.clear()  # the same prompt as the first request: generate again
    assert await served.complete(THIRD_URI) == ["a + b"]
    assert served.service.status.state == "ready"


# -- load failures ------------------------------------------------------------------------


async def load_with_real_loader(model: str) -> tuple[ModelStatus, list[str]]:
    """The status after loading `model` with the real engine factory, and what a request
    gets afterwards."""
    service = CompletionService(Settings(model=model, debounce_ms=0), current_version=lambda u: 1)
    try:
        status = await within(service.load())
        answer = await within(service.complete(request_from(ADD, invoked=True)))
    finally:
        service.shutdown()
    return status, [s.text for s in answer.suggestions]


async def test_a_missing_model_file_is_an_error_and_requests_get_nothing(tmp_path: Path) -> None:
    status, answer = await load_with_real_loader(str(tmp_path / "gone" / "model.gguf"))
    assert status.state == "error"
    assert status.message == f"model directory not found: {tmp_path / 'gone' / 'model.gguf'}"
    assert answer == []


@pytest.mark.parametrize(
    "content",
    [b"\x00" * 64, b"GGUF\x03\x00\x00\x00"],
    ids=["not a gguf", "cut short"],
)
async def test_a_corrupt_gguf_is_an_error_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    monkeypatch.setenv("STARCODER_LS_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "model.Q4_0.gguf"
    broken.write_bytes(content)
    status, answer = await load_with_real_loader(str(broken))
    assert status.state == "error"
    assert status.message.startswith(f"{broken} is not a readable GGUF file (corrupt or cut")
    assert answer == []


async def test_an_unsupported_architecture_is_an_error_that_says_so(
    tmp_path: Path, tiny_starcoder_dir: Path
) -> None:
    vit = tmp_path / "vit"
    shutil.copytree(tiny_starcoder_dir, vit)
    (vit / "config.json").write_text(json.dumps({"model_type": "vit"}))
    status, answer = await load_with_real_loader(str(vit))
    assert status.state == "error"
    assert "is not a supported causal language model" in status.message
    assert answer == []


async def test_a_failed_load_recovers_with_a_reload_that_works() -> None:
    engine = FakeEngine(lambda prompt, params: ["a + b"])
    attempts: list[int] = []

    def factory(settings: Settings, progress: object) -> FakeEngine:
        attempts.append(1)
        if len(attempts) == 1:
            raise EngineError("model directory not found: /models/starcoder")
        return engine

    service = CompletionService(SETTINGS, engine_factory=factory, current_version=lambda u: 1)
    try:
        failed = await within(service.load())
        assert (failed.state, failed.message) == (
            "error",
            "model directory not found: /models/starcoder",
        )
        assert (await within(service.complete(request_from(ADD)))).suggestions == []
        assert (await within(service.load())).state == "ready"
        answer = await within(service.complete(request_from(ADD, invoked=True)))
    finally:
        service.shutdown()
    assert [s.text for s in answer.suggestions] == ["a + b"]


async def test_a_loader_that_raises_an_exit_is_a_load_error() -> None:
    def factory(settings: Settings, progress: object) -> FakeEngine:
        raise SystemExit("the loader called sys.exit")

    service = CompletionService(SETTINGS, engine_factory=factory, current_version=lambda u: 1)
    try:
        status = await within(service.load())
    finally:
        service.shutdown()
    assert status.state == "error"
    assert "the model raised SystemExit: the loader called sys.exit" in status.message
