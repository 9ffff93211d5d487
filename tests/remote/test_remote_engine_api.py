"""The remote engine's side of the `Engine` contract: a coroutine on the event loop, plain
token counts, closing from anywhere, and one error type."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.remote.client import RemoteEngine
from tests.remote.engines import free_port, make_engine
from tests.remote.servers import LoopbackServer, openai_events, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")


def test_it_runs_on_the_event_loop() -> None:
    assert RemoteEngine.runs_on_loop is True
    assert inspect.iscoroutinefunction(RemoteEngine.generate)
    assert "cancel" not in inspect.signature(RemoteEngine.generate).parameters
    assert not inspect.iscoroutinefunction(RemoteEngine.count_tokens)


async def test_calls_on_one_loop_run_side_by_side() -> None:
    """Nothing is held between calls: two streams at once, each with its own connection."""
    events = openai_events(["a", "b", "c"])
    with LoopbackServer(routes({"/v1/completions": stream(events, delay=0.05)})) as srv:
        engine = make_engine(srv.url)
        params = GenerationParams(max_new_tokens=8)
        both = await asyncio.gather(engine.generate("x", params), engine.generate("y", params))
    assert [r.choices[0].text for r in both] == ["abc", "abc"]
    assert len(srv.exchanges) == 2 and engine.requests == 2


async def test_an_error_is_raised_on_the_loop_as_engine_error() -> None:
    engine = make_engine(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EngineError, match="refused") as info:
        await engine.generate("x", GenerationParams())
    assert info.value.retry and info.value.retry_after_s is not None


async def test_aclose_and_close_from_another_thread() -> None:
    engine = make_engine(f"http://127.0.0.1:{free_port()}")
    await engine.aclose()
    closer = threading.Thread(target=engine.close)  # no event loop in that thread
    closer.start()
    closer.join(5)
    assert not closer.is_alive()
