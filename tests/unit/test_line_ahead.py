"""A line ahead (`nextLineAhead`, completion/inflight.py): a kept one-line generation at the
end of a line goes on to write the next line; the requests on this line are answered as
soon as it is written, and the request after Enter gets the next line from the same call.

Keystrokes are played as VS Code sends them (tests/unit/test_inflight.py's `Editor`); the
engine writes one character a step and stops as the local engine's rules say.
"""

from __future__ import annotations

import asyncio

from tests.support.streaming_engine import StreamingEngine
from tests.unit.test_inflight import editing, started, texts

HEAD = "def add(a, b):\n    total = "
FIRST = "a + b"
NEXT = "return total"
WRITTEN = f"{FIRST}\n    {NEXT}\n    print(total)\n"


def answer(prompt: str) -> str:
    if prompt.endswith("total = "):
        return WRITTEN
    if prompt.endswith("    "):
        return "pass  # a fresh call\n"
    return ""


async def test_the_line_is_answered_while_the_call_writes_the_next() -> None:
    engine = StreamingEngine(answer, step_ms=40)
    async with editing(engine) as (editor, service):
        shown = await asyncio.wait_for(editor.ask(f"{HEAD}█\n"), 30)
        assert texts(shown) == [FIRST]
        (call,) = engine.calls
        assert call.params.line_ahead and not call.ended, "answered before the call ended"
        for _ in range(3000):
            if call.ended:
                break
            await asyncio.sleep(0.01)
        assert call.text == f"{FIRST}\n    {NEXT}", "it stops where the next line ends"
        assert service.stats.abandoned_generations == 0


async def test_after_enter_the_next_line_comes_from_the_same_call() -> None:
    engine = StreamingEngine(answer, step_ms=30)
    async with editing(engine) as (editor, service):
        editor.ask(f"{HEAD}█\n")
        await started(engine)
        for typed in range(1, len(FIRST) + 1):
            await editor.type(f"{HEAD}{FIRST[:typed]}█\n")
            await asyncio.sleep(0.02)  # each keystroke's request reaches the service
        at_end = editor.pending
        assert at_end is not None
        # At the line end, typed as written: the next line, below the cursor.
        assert texts(await asyncio.wait_for(at_end, 30)) == [f"\n    {NEXT}"]
        after_enter = await editor.type(f"{HEAD}{FIRST}\n    █\n")
        assert texts(await asyncio.wait_for(after_enter, 30)) == [NEXT]
        assert len(engine.calls) == 1, "no fresh call at the line end nor after Enter"
        assert not engine.calls[0].cancelled
        assert service.stats.adopted_generations >= 1


async def test_enter_while_the_next_line_is_written_waits_for_it() -> None:
    engine = StreamingEngine(answer, step_ms=40)
    async with editing(engine) as (editor, service):
        shown = await asyncio.wait_for(editor.ask(f"{HEAD}█\n"), 30)
        assert texts(shown) == [FIRST]
        assert not engine.calls[0].ended
        after_enter = await editor.type(f"{HEAD}{FIRST}\n    █\n")
        assert texts(await asyncio.wait_for(after_enter, 30)) == [NEXT]
        assert len(engine.calls) == 1
        assert service.stats.adopted_generations == 1


async def test_typing_otherwise_on_the_next_line_stops_it() -> None:
    engine = StreamingEngine(answer, step_ms=60)
    async with editing(engine) as (editor, service):
        shown = await asyncio.wait_for(editor.ask(f"{HEAD}█\n"), 30)
        assert texts(shown) == [FIRST]
        await editor.type(f"{HEAD}{FIRST}█\n")
        await asyncio.sleep(0.02)
        await editor.type(f"{HEAD}{FIRST}\n    █\n")
        await asyncio.sleep(0.02)
        other = await editor.type(f"{HEAD}{FIRST}\n    x█\n")  # the call writes "r"
        await asyncio.wait_for(other, 30)
        first = engine.calls[0]
        assert first.ended and first.cancelled and not first.text.endswith(NEXT)
        assert len(engine.calls) == 2, "a fresh call for the line as typed"
        assert service.stats.abandoned_generations == 1


async def test_off_a_one_line_call_stops_at_its_line_end() -> None:
    engine = StreamingEngine(answer, step_ms=10)
    async with editing(engine, next_line_ahead=False) as (editor, service):
        shown = await asyncio.wait_for(editor.ask(f"{HEAD}█\n"), 30)
        assert texts(shown) == [FIRST]
        (call,) = engine.calls
        assert not call.params.line_ahead and call.ended and call.text == FIRST


async def test_text_right_of_the_cursor_keeps_the_call_to_its_line() -> None:
    engine = StreamingEngine(answer, step_ms=10)
    async with editing(engine) as (editor, service):
        await asyncio.wait_for(editor.ask(f"{HEAD}█  # sum\n"), 30)
        assert engine.calls and not engine.calls[0].params.line_ahead
