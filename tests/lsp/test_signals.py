"""Ctrl-C (SIGINT) and SIGTERM reaching a server on stdio, as from a terminal editor or
`make serve`: idle, generating or loading, it leaves with 128 + the signal's number (130,
143), and neither a traceback, nor a fatal error of the interpreter, nor an abort of the
C++ runtime reaches stderr. stdin stays open throughout, so the stdin reader is always
blocked in a read when the signal comes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from starcoder_ls.lsp.framing import FrameParser, Message
from tests.support.scripted_server import read_calls, write_script

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 60.0
"""Only a guard against waiting forever: no test asserts how fast anything is."""
BROKEN = ("Traceback", "Fatal Python error", "terminate called")
SLOW_S = 600.0
"""A load or a generation that is still running whenever the test sends its signal."""
URI = "file:///w/a.py"


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _ignore_sigint() -> None:
    """As a shell starts a background job: Ctrl-C in the terminal is not for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _default_sigint() -> None:
    """As a shell starts a foreground program, whatever this test run inherited (pytest
    itself run as a background job starts with Ctrl-C ignored, and so would its children)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class StdioServer:
    """`slow_loading_server` (the real server on a scripted engine) on pipes; logs to
    stderr, as when an editor or `make serve` starts it in a terminal."""

    def __init__(self, process: asyncio.subprocess.Process, folder: Path) -> None:
        self.process = process
        self.folder = folder
        self.messages: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._ids = iter(range(1, 1_000_000))
        self._arrived = asyncio.Event()
        self._readers = [
            asyncio.ensure_future(self._read_stdout()),
            asyncio.ensure_future(self._read_stderr()),
        ]

    @classmethod
    async def start(
        cls, folder: Path, *, load_s: float = 0.0, ignore_sigint: bool = False
    ) -> StdioServer:
        write_script(folder / "script.json", [{"choices": ["x + 1"], "delay_ms": SLOW_S * 1000}])
        command = [sys.executable, "-m", "tests.support.slow_loading_server"]
        command += ["--load-s", str(load_s), "--loading-file", str(folder / "loading")]
        command += ["--script", str(folder / "script.json")]
        command += ["--record", str(folder / "calls.jsonl"), "--log-level", "info"]
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_ignore_sigint if ignore_sigint else _default_sigint,
        )
        return cls(process, folder)

    async def _read_stdout(self) -> None:
        parser = FrameParser()
        assert self.process.stdout is not None
        while data := await self.process.stdout.read(65536):
            for event in parser.feed(data):
                assert isinstance(event, Message), event
                self.messages.append(event.value)
            self._arrived.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while data := await self.process.stderr.read(65536):
            self.stderr += data

    def tail(self) -> str:
        return self.stderr.decode(errors="replace")[-4000:]

    async def send(self, method: str, params: Any = None, *, notify: bool = False) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        msg_id = 0 if notify else next(self._ids)
        if not notify:
            message["id"] = msg_id
        assert self.process.stdin is not None
        self.process.stdin.write(frame(message))
        await self.process.stdin.drain()
        return msg_id

    async def answer(self, method: str, params: Any = None) -> dict[str, Any]:
        msg_id = await self.send(method, params)

        def answered() -> dict[str, Any] | None:
            return next((m for m in self.messages if m.get("id") == msg_id), None)

        await self.until(answered, f"no answer to {method}")
        answer = answered()
        assert answer is not None
        return answer

    async def call(self, method: str, params: Any = None) -> Any:
        answer = await self.answer(method, params)
        assert "result" in answer, answer
        return answer["result"]

    async def until(self, done: Callable[[], Any], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD_S
        while not done():
            if loop.time() > deadline or self.process.returncode is not None:
                raise AssertionError(f"{what}; stderr:\n{self.tail()}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), 0.05)

    async def initialize(self) -> None:
        capabilities = {"textDocument": {"inlineCompletion": {}}}
        await self.call("initialize", {"capabilities": capabilities})
        await self.send("initialized", {}, notify=True)

    async def status(self) -> str:
        params = {"command": "starcoder.status"}
        return (await self.call("workspace/executeCommand", params))["state"]

    async def exit_code(self) -> int:
        try:
            code = await asyncio.wait_for(self.process.wait(), HANG_GUARD_S)
        except TimeoutError:
            raise AssertionError(f"still running; stderr:\n{self.tail()}") from None
        await asyncio.wait_for(asyncio.gather(*self._readers), HANG_GUARD_S)
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        for reader in self._readers:
            reader.cancel()


@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    servers: list[StdioServer] = []

    async def starter(**kwargs: Any) -> StdioServer:
        servers.append(await StdioServer.start(tmp_path, **kwargs))
        return servers[-1]

    yield starter
    for server in servers:
        await server.stop()


async def idle(start: Callable[..., Any]) -> StdioServer:
    server = await start()
    await server.initialize()
    await server.until(lambda: server.folder.joinpath("loading").exists(), "no load started")
    ready = False
    while not ready:
        ready = await server.status() == "ready"
    return server


async def generating(start: Callable[..., Any]) -> StdioServer:
    server = await idle(start)
    document = {"uri": URI, "languageId": "python", "version": 1, "text": "def f(x):\n    return "}
    await server.send("textDocument/didOpen", {"textDocument": document}, notify=True)
    position = {"line": 1, "character": 11}
    params = {"textDocument": {"uri": URI}, "position": position, "context": {"triggerKind": 1}}
    await server.send("textDocument/inlineCompletion", params)
    calls = server.folder / "calls.jsonl"
    await server.until(lambda: read_calls(calls), "no generation started")
    return server


async def loading(start: Callable[..., Any]) -> StdioServer:
    server = await start(load_s=SLOW_S)
    await server.initialize()
    await server.until(lambda: server.folder.joinpath("loading").exists(), "no load started")
    assert await server.status() == "loading"
    return server


async def uninitialized(start: Callable[..., Any]) -> StdioServer:
    """Only the stdin reader at work: no model, not even an `initialize` yet."""
    server = await start()
    await server.send("$/noSuchNotification", {}, notify=True)
    assert "error" in await server.answer("shutdown")  # before `initialize`: the loop runs
    return server


STATES = {"idle": idle, "generating": generating, "loading": loading}


def assert_clean(server: StdioServer, code: int, expected: int) -> None:
    stderr = server.stderr.decode(errors="replace")
    found = [marker for marker in BROKEN if marker in stderr]
    assert (code, found) == (expected, []), server.tail()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("state", list(STATES))
async def test_a_signal_ends_the_server_cleanly(
    start: Callable[..., Any], state: str, sig: signal.Signals
) -> None:
    server = await STATES[state](start)
    server.process.send_signal(sig)
    assert_clean(server, await server.exit_code(), 128 + sig)


@pytest.mark.parametrize("state", list(STATES))
async def test_a_second_ctrl_c_while_leaving_still_leaves_cleanly(
    start: Callable[..., Any], state: str
) -> None:
    server = await STATES[state](start)
    server.process.send_signal(signal.SIGINT)
    stopping = b"stopping: SIGINT"
    await server.until(
        lambda: stopping in server.stderr or server.process.returncode is not None,
        "the server neither stopped nor left",
    )
    with contextlib.suppress(ProcessLookupError):  # it may be gone already
        server.process.send_signal(signal.SIGINT)
    assert_clean(server, await server.exit_code(), 130)


async def test_ctrl_c_before_initialize_ends_the_server_cleanly(
    start: Callable[..., Any],
) -> None:
    server = await uninitialized(start)
    server.process.send_signal(signal.SIGINT)
    assert_clean(server, await server.exit_code(), 130)


async def test_a_sigint_ignored_from_the_start_stays_ignored(start: Callable[..., Any]) -> None:
    server = await idle(functools.partial(start, ignore_sigint=True))
    server.process.send_signal(signal.SIGINT)
    assert await server.status() == "ready"  # still serving
    server.process.send_signal(signal.SIGTERM)
    assert_clean(server, await server.exit_code(), 128 + signal.SIGTERM)
