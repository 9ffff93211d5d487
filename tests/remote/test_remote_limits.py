"""Engines that never stop sending: the single worker is given back all the same.

A stream is read up to `max_new_tokens` tokens and up to the request's deadline (twice
the read timeout), a line up to `transport.MAX_LINE` bytes and an error body up to
`transport.MAX_ERROR_BODY`; the connection is closed when reading stops. Each call runs
under a hang guard (`engines.GUARD_S`) instead of asserting times.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from starcoder_ls.engine.base import EngineError, GenerationResult
from starcoder_ls.engine.remote import transport
from tests.remote.engines import GUARD_S, PATHS, generate, make_engine
from tests.remote.servers import Exchange, LoopbackServer, openai_events, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")

ENDLESS_S = GUARD_S + 10
"""How long the endless servers go on when nobody stops them: past the guard."""

GENERATE_PATHS = {"openai": "/v1/completions", "tgi": "/generate_stream", "ollama": "/api/generate"}
TOKEN_EVENTS = {
    "openai": 'data: {"choices": [{"index": 0, "text": "tok ", "finish_reason": null}]}\n\n',
    "tgi": 'data:{"token": {"id": 7, "text": "tok ", "special": false}}\n\n',
    "ollama": '{"model": "m", "response": "tok ", "done": false}\n',
}


def _within(call: Callable[[], Any]) -> Any:
    """`call()` in a thread (a blocking load); failed if it is not back within GUARD_S."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    if thread.is_alive():
        pytest.fail(f"the call was still reading after {GUARD_S:g} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _endless(
    piece: bytes, *, delay: float, status: int = 200, chunked: bool = True
) -> Callable[[Exchange], None]:
    """Sends `piece` every `delay` seconds until the client leaves (or ENDLESS_S passes)."""

    def handle(exchange: Exchange) -> None:
        headers = {"Content-Type": "text/event-stream"}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        if not exchange.head(status, headers):
            return
        deadline = time.monotonic() + ENDLESS_S
        while not exchange.stopping.is_set() and time.monotonic() < deadline:
            if not (exchange.chunk(piece) if chunked else exchange.send(piece)):
                return
            exchange.sent_events += 1
            if delay:
                time.sleep(delay)

    return handle


def _closed(exchange: Exchange) -> bool:
    deadline = time.monotonic() + 10
    while not exchange.client_gone and time.monotonic() < deadline:
        time.sleep(0.02)
    return exchange.client_gone


@pytest.mark.parametrize("dialect", ["openai", "tgi", "ollama"])
def test_an_engine_that_ignores_max_tokens_is_read_up_to_max_new_tokens(dialect: str) -> None:
    event = TOKEN_EVENTS[dialect].encode()
    with LoopbackServer(routes({GENERATE_PATHS[dialect]: _endless(event, delay=0.002)})) as srv:
        engine = make_engine(srv.url, dialect, model="m")
        result: GenerationResult = generate(engine, max_new_tokens=16)
        assert _closed(srv.exchanges[0]), "the connection was left open"
    choice = result.choices[0]
    assert choice.text == "tok " * 16
    assert (choice.tokens, choice.stop_reason) == (16, "length")
    assert not result.cancelled


def test_an_engine_that_ends_at_max_new_tokens_is_read_to_its_end() -> None:
    """The token bound drops only tokens past it: the engine's own last event still counts."""
    events = openai_events(["a", "b", "c"], finish="stop")
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: stream(events)})) as srv:
        result = generate(make_engine(srv.url), max_new_tokens=3)
    choice = result.choices[0]
    assert (choice.text, choice.tokens, choice.stop_reason) == ("abc", 3, "stop")


def test_a_slow_engine_that_never_ends_is_stopped_at_the_deadline() -> None:
    """One token every 0.1 s: the read timeout (0.5 s of silence) never fires."""
    event = TOKEN_EVENTS["openai"].encode()
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: _endless(event, delay=0.1)})) as srv:
        engine = make_engine(srv.url, read_timeout=0.5)
        result: GenerationResult = generate(engine, max_new_tokens=4096)
        assert _closed(srv.exchanges[0]), "the connection was left open"
    choice = result.choices[0]
    assert choice.text.startswith("tok tok ")
    assert choice.text == "tok " * choice.tokens
    assert choice.stop_reason == "length"
    assert not result.cancelled


def test_an_engine_that_only_keeps_the_stream_alive_fails_at_the_deadline() -> None:
    with LoopbackServer(
        routes({GENERATE_PATHS["openai"]: _endless(b": keep-alive\n\n", delay=0.1)})
    ) as srv:
        engine = make_engine(srv.url, read_timeout=0.5)
        with pytest.raises(EngineError, match=r"no completion within 1 s"):
            generate(engine)
        assert _closed(srv.exchanges[0]), "the connection was left open"


def test_choices_an_engine_never_sends_do_not_hold_the_call() -> None:
    """Asked for 3 choices, the engine streams only the first, for ever."""
    event = TOKEN_EVENTS["openai"].encode()
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: _endless(event, delay=0.1)})) as srv:
        engine = make_engine(srv.url, read_timeout=0.5)
        result: GenerationResult = generate(engine, max_new_tokens=4096, n=3, temperature=0.5)
    assert len(srv.requests) == 1
    assert [c.stop_reason for c in result.choices] == ["length"]


def _one_line(size: int, framing: str) -> Callable[[Exchange], None]:
    """`size` bytes of one SSE line without its end, then a proper end of the body."""
    block = b"x" * 65536

    def handle(exchange: Exchange) -> None:
        headers = {"Content-Type": "text/event-stream"}
        if framing == "eof":
            exchange.head(200, headers)
            exchange.send(b"data: ")
            for _ in range(size // len(block)):
                if not exchange.send(block):
                    return
            return
        headers["Transfer-Encoding"] = "chunked"
        exchange.head(200, headers)
        if framing == "one-chunk":
            exchange.chunk(b"data: " + b"x" * size) and exchange.end_chunks()
            return
        for _ in range(size // len(block)):
            if not exchange.chunk(block):
                return
        exchange.end_chunks()

    return handle


@pytest.mark.parametrize("framing", ["one-chunk", "many-chunks", "eof"])
def test_a_line_without_an_end_is_an_error(framing: str) -> None:
    size = 20 * 1024 * 1024
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: _one_line(size, framing)})) as srv:
        engine = make_engine(srv.url)
        with pytest.raises(EngineError, match=r"a line over 1 MiB"):
            generate(engine)
        assert _closed(srv.exchanges[0]), "the connection was left open"


def test_a_long_event_under_the_bound_is_read() -> None:
    """A last event repeating a long completion (TGI's `generated_text`) is no error."""
    text = "x = 1  # " + "é" * 400_000
    event = 'data: {"choices": [{"index": 0, "text": %s, "finish_reason": "length"}]}\n\n'
    body = (event % json.dumps(text, ensure_ascii=False) + "data: [DONE]\n\n").encode()
    assert 800_000 < len(body) < transport.MAX_LINE
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: _pieces(body, 65536)})) as srv:
        result = generate(make_engine(srv.url))
    assert result.choices[0].text == text


async def test_lines_are_split_the_same_wherever_the_chunks_end() -> None:
    body = b"data: one\r\n\r\ndata: two\n" + b"y" * 100 + b"\nlast"
    with LoopbackServer(routes({"/": _pieces(body, 7)})) as srv:
        async with httpx.AsyncClient() as client, client.stream("GET", srv.url + "/") as response:
            lines = [line async for line in transport.lines(response, "peer")]
    assert lines == ["data: one", "", "data: two", "y" * 100, "last"]


def _pieces(body: bytes, size: int) -> Callable[[Exchange], None]:
    def handle(exchange: Exchange) -> None:
        exchange.head(200, {"Transfer-Encoding": "chunked"})
        for start in range(0, len(body), size):
            exchange.chunk(body[start : start + size])
        exchange.end_chunks()

    return handle


def test_a_huge_error_body_is_read_only_up_to_its_bound() -> None:
    """A 500 whose one chunk announces 1 GiB (and sends 128 MiB of it, then waits): its
    first 64 KiB make the message."""
    message = json.dumps({"error": {"message": "CUDA out of memory"}}).encode()
    block = message + b" " * (65536 - len(message))

    def handle(exchange: Exchange) -> None:
        exchange.head(500, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        exchange.send(f"{1 << 30:x}\r\n".encode())
        for _ in range(2048):
            if exchange.stopping.is_set() or not exchange.send(block):
                return
        exchange.wait_for_close()

    with LoopbackServer(routes({GENERATE_PATHS["openai"]: handle})) as srv:
        engine = make_engine(srv.url)
        with pytest.raises(EngineError, match="returned 500: CUDA out of memory"):
            generate(engine)
        assert _closed(srv.exchanges[0]), "the connection was left open"


def test_an_error_body_that_never_ends_is_cut_at_the_deadline() -> None:
    """A 503 dripping its body within the read timeout: the message is the reason only."""
    drip = _endless(b"x", delay=0.05, status=503)
    with LoopbackServer(routes({GENERATE_PATHS["openai"]: drip})) as srv:
        engine = make_engine(srv.url, read_timeout=0.5)
        with pytest.raises(EngineError, match="returned 503: Service Unavailable"):
            generate(engine)
        assert _closed(srv.exchanges[0]), "the connection was left open"


def test_a_probe_that_never_ends_does_not_hold_the_load() -> None:
    from starcoder_ls.engine.remote.setup import open_remote
    from starcoder_ls.engine.settings import EngineSettings

    drip = _endless(b" ", delay=0.05)
    with LoopbackServer(routes({"/v1/models": drip})) as srv:
        settings = EngineSettings(backend="openai", endpoint=srv.url + PATHS["openai"])
        engine = _within(lambda: open_remote(settings))
    assert engine.info.context_window > 0


def test_a_bad_content_length_is_a_clear_error() -> None:
    def handle(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "text/event-stream", "Content-Length": "lots"})

    with LoopbackServer(routes({GENERATE_PATHS["openai"]: handle})) as srv:
        engine = make_engine(srv.url)
        with pytest.raises(EngineError, match="sent a bad Content-Length"):
            generate(engine)
