"""A hostile neighbour on `serve --tcp` (issue 18): connections that never speak, frames
that never end or are huge, floods of connections, clients that never read their
replies, and settings that are nothing but problems. Each test holds one limit, over
real loopback sockets, bounded in connections and bytes; the editor beside the neighbour
is still served.

The server runs in this process (`TcpHost`, on the scripted engine) so that its limits can
be shrunk (`monkeypatch` on `tcp`'s constants) and what it holds can be counted; the
file-limit case runs `serve --tcp` as a process. No test asserts a duration:
`HANG_GUARD_S` only stops a test that would otherwise wait for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import resource
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from starcoder_ls.config import Settings
from starcoder_ls.lsp import tcp
from starcoder_ls.lsp.framing import FrameParser, Message
from starcoder_ls.lsp.tcp import TcpHost
from starcoder_ls.lsp.tcp_guard import REQUEST_FAILED, TOKEN_OPTION
from tests.lsp.test_tcp_clients import LAUNCHER, ROOT, TOKEN, wait_for
from tests.support.scripted_server import engine_factory, write_script

HANG_GUARD_S = 10.0
"""Only a guard against waiting forever: no test asserts how fast anything is."""
NOT_INITIALIZED, METHOD_NOT_FOUND = -32002, -32601


def frame(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(options: dict[str, Any] | None = None, msg_id: int = 1) -> dict[str, Any]:
    params = {
        "processId": None,
        "rootUri": None,
        "capabilities": {"textDocument": {"inlineCompletion": {}}},
        "initializationOptions": {TOKEN_OPTION: TOKEN, "debounceMs": 0, **(options or {})},
    }
    return {"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": params}


def status_request(msg_id: int) -> dict[str, Any]:
    params = {"command": "starcoder.status"}
    return {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand", "params": params}


class Raw:
    """A client on a bare socket: it writes what a test says and reads only when told."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.messages: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int, *, reads: bool = True) -> Raw:
        """`reads=False`: a client that reads nothing (asyncio's reader takes what comes
        until its buffer holds twice its limit; the socket's buffer is made small too)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if not reads:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        limit = 2**26 if reads else 1024
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
        return cls(reader, writer)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), HANG_GUARD_S)

    async def send(self, message: Any) -> None:
        await self.write(frame(message))

    async def answer(self, msg_id: Any) -> dict[str, Any]:
        """The response to `msg_id`, reading as much as it takes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD_S
        while True:
            for message in self.messages:
                if "method" not in message and message.get("id") == msg_id:
                    return message
            left = deadline - loop.time()
            assert left > 0, f"no answer to {msg_id!r}"
            data = await asyncio.wait_for(self.reader.read(1 << 20), left)
            assert data, f"the connection closed before the answer to {msg_id!r}"
            for event in self.parser.feed(data):
                assert isinstance(event, Message), event
                self.messages.append(event.value)

    async def closed_by_server(self) -> bool:
        """Whether the server closes the connection (read to its end) within the guard."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD_S
        try:
            while loop.time() < deadline:
                data = await asyncio.wait_for(self.reader.read(1 << 20), deadline - loop.time())
                if not data:
                    return True
        except (ConnectionError, TimeoutError):
            return loop.time() < deadline
        return False

    def close(self) -> None:
        self.writer.close()


async def editor(port: int, options: dict[str, Any] | None = None) -> Raw:
    """An editor that initializes and is served (its status request is answered)."""
    client = await Raw.open(port)
    answer = await client_call(client, initialize(options))
    assert "result" in answer, answer
    await client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert "result" in await client_call(client, status_request(2))
    return client


async def client_call(client: Raw, message: dict[str, Any]) -> dict[str, Any]:
    await client.send(message)
    return await client.answer(message["id"])


@pytest_asyncio.fixture
async def host(tmp_path: Path) -> AsyncIterator[TcpHost]:
    script = tmp_path / "script.json"
    write_script(script, [])
    server = TcpHost(Settings(), engine_factory(script, None), token=TOKEN)
    _, port = await server.start("127.0.0.1", 0)
    server.port = port  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        await server.close()


def port_of(host: TcpHost) -> int:
    return host.port  # type: ignore[attr-defined]


def logged_bytes(caplog: pytest.LogCaptureFixture) -> int:
    return sum(len(record.getMessage()) + len(record.exc_text or "") for record in caplog.records)


# -- connections that never speak ------------------------------------------------------


async def test_silent_connections_beyond_the_pending_limit_are_closed(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: 300 connections that send nothing were held for ever (~100 KB each)."""
    monkeypatch.setattr(tcp, "MAX_PENDING", 4, raising=False)
    monkeypatch.setattr(tcp, "HANDSHAKE_TIMEOUT_S", 600.0, raising=False)
    silent = [await Raw.open(port_of(host)) for _ in range(40)]
    try:
        closing = [asyncio.ensure_future(client.closed_by_server()) for client in silent]
        closed = 0
        while closed < 36 and closing:
            done, closing = await asyncio.wait(closing, return_when=asyncio.FIRST_COMPLETED)
            closed += sum(task.result() for task in done)
        for task in closing:
            task.cancel()
        assert closed >= 36, f"the server holds {40 - closed} silent connections"
        mine = await editor(port_of(host))  # and a new editor still gets in
        mine.close()
    finally:
        for client in silent:
            client.close()


async def test_a_connection_that_does_not_initialize_in_time_is_closed(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tcp, "HANDSHAKE_TIMEOUT_S", 0.5, raising=False)
    silent = await Raw.open(port_of(host))
    partial = await Raw.open(port_of(host))  # a frame cut short, never finished
    await partial.write(b"Content-Length: 1000\r\n\r\n" + b'{"jsonrpc": "2.0", "x": "' + b"a" * 400)
    spoke = await Raw.open(port_of(host))  # a whole frame, but no initialize
    await spoke.send(status_request(5))
    slow = await Raw.open(port_of(host))  # a byte of a header at a time, 400 at most

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in b"Content-Length: 30\r\n" + b"X-Padding: " + b"y" * 379:
                slow.writer.write(bytes([byte]))
                await slow.writer.drain()
                await asyncio.sleep(0.02)

    trickling = asyncio.ensure_future(trickle())
    try:
        clients = (silent, partial, spoke, slow)
        closed = await asyncio.gather(*(client.closed_by_server() for client in clients))
        assert closed == [True, True, True, True]
    finally:
        trickling.cancel()
        for client in (silent, partial, spoke, slow):
            client.close()


def test_silent_connections_at_the_file_limit_leave_room_for_an_editor(
    tmp_path: Path,
) -> None:
    """Issue 18, as reported: `serve --tcp` at its file limit, 300 connections that send
    nothing. asyncio's accept loop then logged a traceback per try and new editors hung."""
    asyncio.run(_file_limit_case(tmp_path))


async def _file_limit_case(tmp_path: Path) -> None:
    token_file, script, log_file = tmp_path / "token", tmp_path / "script.json", tmp_path / "log"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    write_script(script, [])
    command = [sys.executable, "-c", LAUNCHER, str(script), str(tmp_path / "calls.jsonl")]
    command += [str(tmp_path / "loads")]
    command += ["--tcp", "0", "--tcp-token-file", str(token_file), "--log-file", str(log_file)]

    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    process = subprocess.Popen(command, cwd=ROOT, preexec_fn=low_file_limit)
    silent: list[Raw] = []
    try:

        def port() -> int | None:
            text = log_file.read_text() if log_file.exists() else ""
            found = re.search(r"serving LSP on 127\.0\.0\.1:(\d+)", text)
            assert process.poll() is None, text
            return int(found.group(1)) if found else None

        number = await wait_for(port, "the server to listen")
        opening = asyncio.gather(*(Raw.open(number) for _ in range(300)))
        silent = list(await asyncio.wait_for(opening, HANG_GUARD_S))
        await asyncio.sleep(0.5)  # the server accepts what it will
        mine = await editor(number)
        mine.close()
        size = len(log_file.read_bytes())
        assert size < 50_000, f"{size} bytes of log:\n{log_file.read_text()[-3000:]}"
    finally:
        for client in silent:
            client.close()
        process.terminate()
        process.wait(timeout=30)


# -- frames before initialize -------------------------------------------------------------


async def test_before_initialize_a_large_frame_closes_the_connection(host: TcpHost) -> None:
    """Issue 18: 8 connections each declaring 64 MiB and sending 63 MiB held +500 MB."""
    client = await Raw.open(port_of(host))
    try:
        await client.write(b"Content-Length: %d\r\n\r\n{" % (64 * 1024 * 1024))
        with contextlib.suppress(ConnectionError, TimeoutError):
            for _ in range(16):  # 1 MiB, while the server is not yet seen to close
                await client.write(b" " * 65536)
        assert await client.closed_by_server()
    finally:
        client.close()
    # Once initialized, an editor sends documents of several MiB.
    mine = await editor(port_of(host))
    try:
        text = "x = 1\n" * 400_000  # 2.4 MB
        item = {"uri": "file:///w/big.py", "languageId": "python", "version": 1, "text": text}
        await mine.send(
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}}
        )
        assert "result" in await client_call(mine, status_request(3))
    finally:
        mine.close()


# -- floods ------------------------------------------------------------------------------


async def test_a_flood_of_connections_builds_a_server_only_for_who_speaks(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: ~80 connections a second each built a whole server (~12 ms of the event
    loop) before a byte was read, and an editor's answers went from ~5 ms to seconds."""
    built: list[str] = []
    original = tcp.ConnectionServer.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs.get("peer", "?"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(tcp.ConnectionServer, "__init__", counting)
    for number in range(150):
        client = await Raw.open(port_of(host))
        if number % 2:
            await client.write(b"Content-Length: 50\r\n")  # half a header, then gone
        client.close()
    mine = await editor(port_of(host))
    mine.close()
    assert len(built) == 1, f"{len(built)} servers built for 151 connections"


# -- clients that never read, and what is echoed and logged ------------------------------


async def test_refusals_echo_and_log_a_bounded_method_name(
    host: TcpHost, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 18: a 1 MB method name came back whole in the refusal and was logged whole."""
    caplog.set_level(logging.DEBUG, logger="starcoder_ls")
    long_method = "m" * 1_000_000
    client = await Raw.open(port_of(host))
    try:
        for msg_id in range(20):
            await client.send({"jsonrpc": "2.0", "id": msg_id, "method": long_method})
        for msg_id in range(20):
            answer = await client.answer(msg_id)
            assert answer["error"]["code"] == NOT_INITIALIZED
            assert len(answer["error"]["message"]) < 300
    finally:
        client.close()
    assert logged_bytes(caplog) < 20_000
    mine = await editor(port_of(host))  # after initialize: pygls' "method not found"
    try:
        answer = await client_call(mine, {"jsonrpc": "2.0", "id": 9, "method": long_method})
        assert answer["error"]["code"] == METHOD_NOT_FOUND
        assert len(json.dumps(answer)) < 1000
    finally:
        mine.close()


async def test_a_client_that_never_reads_its_replies_is_dropped(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 18: a client that never read its replies grew the server's write queue
    without bound. Its requests here are refused before initialize, each with a 60 KB id
    that the refusal must repeat (JSON-RPC answers with the request's id), so the replies
    are as large as the requests: kernel buffers (MBs on loopback) fill, then the server's
    own queue, and the server must stop reading and then drop the client."""
    backlog = 64 * 1024
    monkeypatch.setattr(tcp, "WRITE_BACKLOG", backlog, raising=False)
    monkeypatch.setattr(tcp, "WRITE_STALL_S", 0.5, raising=False)
    monkeypatch.setattr(tcp, "HANDSHAKE_TIMEOUT_S", 600.0, raising=False)
    caplog.set_level(logging.INFO, logger="starcoder_ls")
    client = await Raw.open(port_of(host), reads=False)
    queued: list[int] = []
    sampling = True

    async def sample() -> None:
        while sampling:
            queued.extend(
                writer.transport.get_write_buffer_size() for writer in host.connections.values()
            )
            await asyncio.sleep(0.005)

    sampler = asyncio.ensure_future(sample())
    sent, limit = 0, 1000  # 60 MB at most
    try:
        with contextlib.suppress(ConnectionError, TimeoutError):
            for sent in range(limit):  # noqa: B007 (read after the loop)
                await client.send(
                    {"jsonrpc": "2.0", "id": f"{sent}:" + "i" * 60_000, "method": "m"}
                )
        assert await client.closed_by_server(), f"{sent} sent, {max(queued, default=0)} queued"
    finally:
        sampling = False
        await sampler
        client.close()
    assert sent < limit - 1, "the server stopped reading before all were sent"
    peak = max(queued, default=0)
    assert peak <= backlog + 1024 * 1024, f"{peak} bytes queued for a client that never reads"
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) < 50, f"{len(warnings)} warnings for one client"
    assert logged_bytes(caplog) < 20_000, "each refusal logs a clipped id"


async def test_a_settings_flood_is_reported_in_one_message(host: TcpHost) -> None:
    """Issue 18: each unknown setting opened a popup of its own."""
    unknown = {f"colour{n}": n for n in range(300)}
    client = await editor(port_of(host), unknown)
    try:
        assert "result" in await client_call(client, status_request(3))
        shown = [m for m in client.messages if m.get("method") == "window/showMessage"]
        assert len(shown) == 1, f"{len(shown)} popups"
        message = shown[0]["params"]["message"]
        assert "colour0" in message and "300" in message and len(message) < 2000
    finally:
        client.close()


async def test_a_token_that_is_a_lone_surrogate_is_refused_the_documented_way(
    host: TcpHost,
) -> None:
    """Issue 18: `"\\ud800"` made `hmac.compare_digest` raise and the connection drop."""
    for options in ({TOKEN_OPTION: "\ud800"}, {"starcoder": {TOKEN_OPTION: "\udfff"}}):
        client = await Raw.open(port_of(host))
        try:
            message = initialize()
            message["params"]["initializationOptions"] = options
            answer = await client_call(client, message)
            assert answer["error"]["code"] == -32602
            assert answer["error"]["data"] == {"retry": False}
            assert await client.closed_by_server()
        finally:
            client.close()


async def test_an_initialize_beyond_the_client_limit_is_refused(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tcp, "MAX_CLIENTS", 1, raising=False)
    first = await editor(port_of(host))
    second = await Raw.open(port_of(host))
    try:
        answer = await client_call(second, initialize())
        assert answer["error"]["code"] == REQUEST_FAILED
        assert answer["error"]["data"] == {"retry": False}
        assert await second.closed_by_server()
        assert "result" in await client_call(first, status_request(3))
    finally:
        first.close()
        second.close()


async def test_after_initialize_a_message_left_unfinished_closes_only_its_connection(
    host: TcpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tcp, "FRAME_STALL_S", 0.5, raising=False)
    stalled, idle = await editor(port_of(host)), await editor(port_of(host))
    try:
        await stalled.write(b"Content-Length: 5000\r\n\r\n" + b'{"jsonrpc": "2.0", "x": "')
        assert await stalled.closed_by_server()
        assert "result" in await client_call(idle, status_request(3))  # idle is no fault
    finally:
        stalled.close()
        idle.close()


def test_accept_errors_at_the_file_limit_are_logged_a_few_times_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """asyncio logs each failed `accept` with its traceback, about a hundred a second."""
    from starcoder_ls.lsp import tcp_guard

    loop = asyncio.new_event_loop()
    try:
        undo = tcp_guard.LogQuota(logging.getLogger("test"), burst=5).accept_errors(loop)
        for _ in range(200):
            error = OSError(24, "Too many open files")
            loop.call_exception_handler({"message": tcp_guard.ACCEPT_ERROR, "exception": error})
        undo()
        assert loop.get_exception_handler() is None
    finally:
        loop.close()
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 5
    assert not any(record.exc_info for record in caplog.records)
