"""The server under malformed and hostile input, driven byte by byte over stdio: every
request gets an answer, bad frames are skipped, and the process leaves cleanly.

The log is read only for what a person reads there: a refused frame's warning, no warning
for an ordinary cancel, no document text and no traceback. What the server did is read
from its answers and from the calls its scripted engine recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from starcoder_ls.lsp.framing import FrameParser, Message
from tests.support import scripted_server
from tests.support.scripted_server import read_calls, write_script

pytestmark = pytest.mark.asyncio(loop_scope="module")

HANG_GUARD_S = 10.0
"""Only a guard against waiting forever: no test asserts how fast anything is."""
INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, NOT_INITIALIZED = -32602, -32600, -32700, -32002
CAPABILITIES: dict[str, Any] = {"textDocument": {"inlineCompletion": {}}}
SECRET = "sk-do-not-log-this-body"


def frame(message: Any, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return header % len(body) + body


def request(msg_id: Any, method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": method, **extra}
    if params is not None:
        message["params"] = params
    return message


def status_request(msg_id: int) -> dict[str, Any]:
    return request(msg_id, "workspace/executeCommand", {"command": "starcoder.status"})


def inline_params(uri: str = "file:///w/a.py", line: int = 0, character: int = 0) -> dict:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }


class RawServer:
    """`starcoder-ls serve` on pipes, written to byte by byte, its answers read as frames."""

    def __init__(self, process: asyncio.subprocess.Process, log_file: Path) -> None:
        self.process = process
        self.log_file = log_file
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(
        cls, log_file: Path, *args: str, command: Sequence[str] = ("-m", "starcoder_ls", "serve")
    ) -> RawServer:
        """`command` (after this Python): `starcoder-ls serve` unless given."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            "--log-file",
            str(log_file),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process, log_file)

    async def _read(self) -> None:
        parser = FrameParser()
        assert self.process.stdout is not None
        while data := await self.process.stdout.read(65536):
            for event in parser.feed(data):
                assert isinstance(event, Message), event  # the server's own framing is exact
                self.messages.append(event.value)
            self._arrived.set()

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def send(self, message: Any) -> None:
        await self.write(frame(message))

    async def answer(self, msg_id: Any) -> dict[str, Any]:
        """The response to `msg_id` (None: the first error without an id not yet taken)."""
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            for message in self.messages:
                if "method" not in message and message.get("id") == msg_id:
                    self.messages.remove(message)
                    return message
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0 or self.process.returncode is not None:
                raise AssertionError(f"no answer to {msg_id!r}; log:\n{self.log()[-3000:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        await self.send(message)
        return await self.answer(message.get("id"))

    async def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        params = {"capabilities": CAPABILITIES, "initializationOptions": options or {}}
        return await self.call(request(1, "initialize", params))

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), HANG_GUARD_S)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


def error_code(answer: dict[str, Any]) -> int:
    assert "error" in answer, answer
    return answer["error"]["code"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RawServer]:
    """Initialized, never `initialized`: no model loads, the protocol is all there is."""
    log_file = tmp_path_factory.mktemp("hardening") / "server.log"
    raw = await RawServer.start(log_file, "--model", "never-loaded", "--log-level", "info")
    assert "result" in await raw.initialize()
    yield raw
    await raw.stop()


# -- 1. invalid requests are answered --------------------------------------------------


def _with(path: str, value: Any) -> dict[str, Any]:
    params = inline_params()
    *parents, leaf = path.split(".")
    target = params
    for key in parents:
        target = target[key]
    if value is _MISSING:
        del target[leaf]
    else:
        target[leaf] = value
    return params


_MISSING = object()


@pytest.mark.parametrize(
    "params",
    [
        _with("position.line", -1),
        _with("position.character", 2**31),
        _with("position", "0:0"),
        _with("position.line", "1"),
        _with("textDocument", _MISSING),
        _with("context.triggerKind", 99),
        "params as a string",
        [1, 2],
    ],
    ids=[
        "negative-line",
        "character-2**31",
        "position-string",
        "line-string",
        "no-textDocument",
        "triggerKind-99",
        "params-string",
        "params-array",
    ],
)
async def test_invalid_params_get_32602(server: RawServer, params: Any) -> None:
    answer = await server.call(request(11, "textDocument/inlineCompletion", params))
    assert error_code(answer) == INVALID_PARAMS
    assert "inlineCompletion" in answer["error"]["message"]


async def test_null_params_get_32602(server: RawServer) -> None:
    message = request(12, "textDocument/inlineCompletion")
    message["params"] = None
    assert error_code(await server.call(message)) == INVALID_PARAMS
    assert error_code(await server.call(request(13, "textDocument/inlineCompletion"))) == (
        INVALID_PARAMS
    )


@pytest.mark.parametrize(
    "message",
    [
        request(21, "$/cancelRequest", {"id": 5}),
        request(22, "textDocument/didOpen", {"textDocument": {}}),
        {"id": 23, "method": "workspace/executeCommand", "params": {"command": "x"}},
        request(24, "workspace/executeCommand", {"command": "x"}, jsonrpc="1.0"),
        request(25, 42),
    ],
    ids=["cancel-as-request", "notification-as-request", "no-jsonrpc", "jsonrpc-1.0", "method-int"],
)
async def test_invalid_requests_get_32600(server: RawServer, message: dict[str, Any]) -> None:
    assert error_code(await server.call(message)) == INVALID_REQUEST


@pytest.mark.parametrize("bad_id", [None, 1.5, [1], {"a": 1}, True])
async def test_an_id_of_the_wrong_type_gets_32600_with_a_null_id(
    server: RawServer, bad_id: Any
) -> None:
    await server.send(status_request(0) | {"id": bad_id})
    assert error_code(await server.answer(None)) == INVALID_REQUEST
    assert "result" in await server.call(status_request(26))


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{}"])
async def test_unreadable_bodies_are_answered_with_a_null_id(
    server: RawServer, body: bytes
) -> None:
    await server.write(frame(body))
    assert error_code(await server.answer(None)) in (PARSE_ERROR, INVALID_REQUEST)
    assert "result" in await server.call(status_request(27))


async def test_a_second_initialize_is_refused(server: RawServer) -> None:
    answer = await server.call(request(28, "initialize", {"capabilities": {}}))
    assert error_code(answer) == INVALID_REQUEST
    assert "already" in answer["error"]["message"]


# -- 3. framing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"content-length: %d\r\n\r\n",
        b"Content-Length: %d\n\n",
        b"Content-Length:  %d\r\n\r\n",
        b"Content-Length:%d\r\n\r\n",
    ],
    ids=["lowercase", "lf-only", "two-spaces", "no-space"],
)
async def test_harmless_header_variants_are_answered(server: RawServer, header: bytes) -> None:
    await server.write(frame(status_request(31), header))
    assert "result" in await server.answer(31)
    assert "result" in await server.call(status_request(32))


@pytest.mark.parametrize("delta", [-2, 3])
async def test_a_length_a_few_bytes_off_loses_nothing(server: RawServer, delta: int) -> None:
    body = json.dumps(status_request(33)).encode()
    await server.write(b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body)
    await server.send(status_request(34))
    assert "result" in await server.answer(33)
    assert "result" in await server.answer(34)


async def test_an_enormous_length_is_refused_once_and_serving_goes_on(server: RawServer) -> None:
    before = server.log().count("bad frame")
    body = json.dumps(request(35, "x", {"text": SECRET})).encode()
    await server.write(b"Content-Length: 100000000000000\r\n\r\n" + body)
    assert "result" in await server.call(status_request(36))
    assert server.process.returncode is None
    log = server.log()
    assert log.count("bad frame") == before + 1
    assert "over the" in log
    assert SECRET not in log  # a bad frame's body is logged at debug only


async def test_garbage_between_frames_is_skipped(server: RawServer) -> None:
    await server.write(b"garbage\r\n\r\n}}" + frame(status_request(37)))
    assert "result" in await server.answer(37)


async def test_a_cancel_after_the_answer_is_no_warning(server: RawServer) -> None:
    """Editors cancel requests already answered all the time (VS Code on every key)."""
    assert "result" in await server.call(status_request(38))
    before = len(server.log())
    await server.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 38}})
    assert "result" in await server.call(status_request(39))  # read after the cancel
    warnings = [line for line in server.log()[before:].splitlines() if " WARNING " in line]
    assert warnings == []


# -- the life cycle: before initialize, after shutdown, exit -----------------------------


async def test_life_cycle_rules_and_exit_code(tmp_path: Path) -> None:
    raw = await RawServer.start(tmp_path / "server.log", "--model", "never-loaded")
    try:
        answer = await raw.call(request(1, "textDocument/inlineCompletion", inline_params()))
        assert error_code(answer) == NOT_INITIALIZED
        assert "Traceback" not in json.dumps(answer)
        bad_initialize = request(2, "initialize", {"capabilities": 5})
        assert error_code(await raw.call(bad_initialize)) == INVALID_PARAMS
        assert "result" in await raw.call(request(2, "initialize", {"capabilities": {}}))
        assert "result" in await raw.call(request(3, "shutdown"))
        for msg_id, method in [(4, "workspace/executeCommand"), (5, "shutdown")]:
            params = {"command": "starcoder.status"} if msg_id == 4 else None
            assert error_code(await raw.call(request(msg_id, method, params))) == INVALID_REQUEST
        await raw.send({"jsonrpc": "2.0", "method": "exit"})
        assert await raw.exit_code() == 0
    finally:
        await raw.stop()


async def test_exit_without_shutdown_is_code_1(tmp_path: Path) -> None:
    raw = await RawServer.start(tmp_path / "server.log", "--model", "never-loaded")
    try:
        await raw.initialize()
        await raw.send({"jsonrpc": "2.0", "method": "exit"})
        assert await raw.exit_code() == 1
    finally:
        await raw.stop()


# -- with a model: lone surrogates, and leaving while it generates ---------------------

GENERATING = {"choices": ["x + 1"], "delay_ms": 600_000}
"""A generation that runs until it is cancelled (the scripted engine honours cancel)."""


async def _ready_scripted(tmp_path: Path) -> tuple[RawServer, Path]:
    """A ready server whose engine generates until cancelled, recording each call."""
    script, record = tmp_path / "script.json", tmp_path / "calls.jsonl"
    write_script(script, [GENERATING])
    command = (scripted_server.__file__, "--script", str(script), "--record", str(record))
    raw = await RawServer.start(tmp_path / "server.log", "--log-level", "debug", command=command)
    # Wrong types beside a good setting must neither stop the model loading nor the good
    # one applying.
    await raw.initialize({"debounceMs": 0, "fimTemplate": [], "topP": 10**400})
    await raw.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        status = (await raw.call(status_request(2)))["result"]
        if status["state"] != "loading":
            break
        await asyncio.sleep(0.05)
    assert status["state"] == "ready", status
    shown = [
        m["params"]["message"] for m in raw.messages if m.get("method") == "window/showMessage"
    ]
    assert any("starcoder.fimTemplate = []" in m for m in shown), shown
    assert any("starcoder.topP = " in m for m in shown), shown
    return raw, record


async def _open(raw: RawServer, uri: str, text: str) -> None:
    document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    await raw.send(
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}
    )


async def _start_generation(raw: RawServer, record: Path) -> None:
    """A request whose generation has reached the engine, where it runs until cancelled."""
    uri = "file:///w/long.py"
    await _open(raw, uri, "def f(x):\n    \n")
    await raw.send(request(60, "textDocument/inlineCompletion", inline_params(uri, 1, 4)))
    deadline = time.monotonic() + HANG_GUARD_S
    while not read_calls(record):
        assert time.monotonic() < deadline, "the request never reached the engine"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("leave", ["shutdown-exit", "close-stdin"])
async def test_leaving_while_the_model_generates_exits_0(tmp_path: Path, leave: str) -> None:
    raw, record = await _ready_scripted(tmp_path)
    try:
        if leave == "shutdown-exit":
            # Checked here once: a lone surrogate gets an empty answer without asking the
            # model, and a document holding one does not break completions in the others.
            await _open(raw, "file:///w/broken.py", "x = '\ud800'\ny = \n")
            broken = await raw.call(
                request(
                    40, "textDocument/inlineCompletion", inline_params("file:///w/broken.py", 1, 4)
                )
            )
            assert broken["result"] == {"items": []}
            assert read_calls(record) == []
        await _start_generation(raw, record)
        if leave == "shutdown-exit":
            await raw.send(request(51, "shutdown"))
            await raw.send({"jsonrpc": "2.0", "method": "exit"})
        else:
            assert raw.process.stdin is not None
            raw.process.stdin.close()
        assert await raw.exit_code() == 0
        (call,) = read_calls(record)
        assert call["cancelled"] is True  # it was still generating when told to go
        assert "Traceback" not in raw.log()
    finally:
        await raw.stop()
