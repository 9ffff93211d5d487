"""A generation that survives typing (`keepTypedGeneration`, completion/inflight.py).

VS Code asks at every keystroke and cancels the request before it. Here each keystroke is
played as VS Code sends it: the change, the previous request cancelled, a new request;
the engine writes one character a step and says what it has written so far.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starcoder_ls.completion.inflight import GRACE_S, agrees
from starcoder_ls.completion.request import Answer
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from tests.support.fake_engine import request_from
from tests.support.streaming_engine import StreamingEngine

URI = "file:///work/example.py"
LINE = "a + b  # the sum of both"


def answer(prompt: str) -> str:
    if prompt.endswith("return b"):
        return " - a"
    if prompt.endswith("return "):
        return LINE
    return ""


class Editor:
    """Keystrokes as VS Code sends them, on a service over a `StreamingEngine`."""

    def __init__(self, service: CompletionService) -> None:
        self.service = service
        self.version = 1
        self.pending: asyncio.Future[Answer] | None = None

    def ask(self, marked: str) -> asyncio.Future[Answer]:
        self.pending = asyncio.ensure_future(
            self.service.complete(request_from(marked, version=self.version))
        )
        return self.pending

    async def type(self, marked: str) -> asyncio.Future[Answer]:
        """The change, the request before cancelled, the new request."""
        self.version += 1
        self.service.document_changed(URI, self.version)
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
        await asyncio.sleep(0.01)
        return self.ask(marked)


@asynccontextmanager
async def editing(
    engine: StreamingEngine, *, keep: bool = True, **settings: object
) -> AsyncIterator[tuple[Editor, CompletionService]]:
    versions: dict[str, int] = {}
    service = CompletionService(
        Settings(debounce_ms=0, keep_typed_generation=keep, **settings),  # type: ignore[arg-type]
        engine_factory=lambda settings, progress: engine,
        current_version=lambda uri: versions.get(uri, editor.version),
    )
    editor = Editor(service)
    editor.versions = versions  # type: ignore[attr-defined]
    try:
        assert (await service.load()).state == "ready"
        yield editor, service
    finally:
        service.shutdown()


async def started(engine: StreamingEngine) -> None:
    assert await asyncio.to_thread(engine.started.wait, 30)
    engine.started.clear()


def texts(answer: Answer) -> list[str]:
    return [s.text for s in answer.suggestions]


async def test_typing_what_it_writes_keeps_the_one_generation() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        await editor.type("def add(a, b):\n    return a█\n")
        await editor.type("def add(a, b):\n    return a █\n")
        last = await editor.type("def add(a, b):\n    return a +█\n")
        assert texts(await asyncio.wait_for(last, 30)) == [LINE[3:]]
        assert len(engine.calls) == 1, "one engine call for the four requests"
        assert not engine.calls[0].cancelled and engine.calls[0].text == LINE
        assert service.stats.adopted_generations == 1
        assert service.stats.abandoned_generations == 0
        assert len(service.flights) == 0


async def test_off_every_keystroke_starts_over() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine, keep=False) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, b):\n    return a█\n")
        await asyncio.wait_for(last, 30)
        assert len(engine.calls) == 2 and engine.calls[0].cancelled
        assert service.stats.adopted_generations == 0


async def test_typing_otherwise_stops_it_at_the_first_differing_token() -> None:
    engine = StreamingEngine(answer, step_ms=150)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, b):\n    return b█\n")
        assert texts(await asyncio.wait_for(last, 30)) == [" - a"]
        assert len(engine.calls) == 2, "a fresh call answers"
        assert engine.calls[0].cancelled and engine.calls[0].text == "a"
        assert service.stats.abandoned_generations == 1
        assert service.stats.adopted_generations == 0


async def test_a_deletion_cancels_it_as_before() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, b):\n    return█\n")
        await asyncio.wait_for(last, 30)
        await asyncio.sleep(0.05)
        assert engine.calls[0].ended and engine.calls[0].cancelled
        assert engine.calls[0].text != LINE
        assert service.stats.adopted_generations == 0


async def test_an_edit_elsewhere_cancels_it() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, c):\n    return a█\n")
        await asyncio.wait_for(last, 30)
        await asyncio.sleep(0.05)
        assert engine.calls[0].cancelled
        assert service.stats.adopted_generations == 0


async def test_nobody_typing_on_cancels_it_after_the_grace() -> None:
    engine = StreamingEngine(answer, step_ms=100)
    async with editing(engine) as (editor, service):
        first = editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        first.cancel()
        await asyncio.sleep(GRACE_S + 0.2)
        assert engine.calls[0].ended and engine.calls[0].cancelled
        assert len(service.flights) == 0
        assert service.stats.abandoned_generations == 1


async def test_a_stale_version_is_never_answered() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, b):\n    return a█\n")
        editor.versions[URI] = 99  # type: ignore[attr-defined]  # moved on, unannounced
        assert texts(await asyncio.wait_for(last, 30)) == []
        assert service.stats.adopted_generations == 0


async def test_a_generation_that_ended_unadopted_fills_the_typed_ahead_memory() -> None:
    engine = StreamingEngine(lambda prompt: "xy" if prompt.endswith("return ") else "", step_ms=5)
    async with editing(engine) as (editor, service):
        first = editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        first.cancel()
        await asyncio.sleep(0.2)
        last = await editor.type("def add(a, b):\n    return x█\n")
        assert texts(await asyncio.wait_for(last, 30)) == ["y"]
        assert len(engine.calls) == 1 and service.stats.typed_ahead_hits == 1


def test_agrees_while_either_starts_the_other() -> None:
    assert agrees("", "abc", ())
    assert agrees("ab", "abc", ())
    assert agrees("abcd", "abc", ())
    assert not agrees("abx", "abc", ())
    assert agrees("ab\nzz", "ab", ("\n",))


class LoopStreamingEngine(StreamingEngine):
    """The same, as a remote engine runs: a coroutine on the event loop, stopped by
    cancelling its task."""

    runs_on_loop = True

    async def generate(  # type: ignore[override]
        self, prompt: str, params: object, *, on_text: object = None, **kwargs: object
    ) -> object:
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(
                StreamingEngine.generate, self, prompt, params, cancel, on_text=on_text
            )
        except asyncio.CancelledError:
            cancel.set()
            raise


async def test_on_the_event_loop_typing_otherwise_cancels_its_task() -> None:
    engine = LoopStreamingEngine(answer, step_ms=150)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        last = await editor.type("def add(a, b):\n    return b█\n")
        assert texts(await asyncio.wait_for(last, 30)) == [" - a"]
        assert len(engine.calls) == 2 and service.stats.abandoned_generations == 1


async def test_on_the_event_loop_typing_on_keeps_its_task() -> None:
    engine = LoopStreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask("def add(a, b):\n    return █\n")
        await started(engine)
        await editor.type("def add(a, b):\n    return a█\n")
        last = await editor.type("def add(a, b):\n    return a █\n")
        assert texts(await asyncio.wait_for(last, 30)) == [LINE[2:]]
        assert len(engine.calls) == 1 and service.stats.adopted_generations == 1
