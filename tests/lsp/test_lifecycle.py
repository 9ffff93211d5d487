"""Model loading failures, recovery through settings, and the TCP transport."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.lsp.conftest import VSCODE, capabilities, end_session, start_session

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_failed_load_is_reported_then_fixed_by_settings(
    tmp_path: Path, tiny_starcoder_dir: Path
) -> None:
    missing = tmp_path / "no-such-model"
    session = await start_session(
        VSCODE,
        tmp_path / "server.log",
        "--model",
        str(missing),
        options={"debounceMs": 0, "maxNewTokens": 4},
        record_file=tmp_path / "calls.jsonl",
    )
    try:
        status = await session.wait_ready()
        assert status["state"] == "error"
        assert str(missing) in status["message"]
        shown = [m.message for m in session.client.messages if m.type == types.MessageType.Error]
        assert any("could not load" in m for m in shown), shown

        uri = "file:///work/pkg/a.py"
        session.open(uri, "x = \n")
        result = await session.inline(uri, 0, 4)
        assert not result.items
        assert session.calls() == []  # no model to ask

        await session.configure({"model": str(tiny_starcoder_dir)})
        status = await session.wait_ready()
        # The configuration handler is asynchronous: the first look may still see the old
        # error before the reload starts, so look again (bounded) until it settles.
        for _ in range(300):
            if status["state"] == "ready":
                break
            await asyncio.sleep(0.1)
            status = await session.wait_ready()
        assert status["state"] == "ready"
        assert status["template"] == "starcoder"
        await session.inline(uri, 0, 4)
        (call,) = session.calls()  # the loaded model is asked
        assert call["prompt"].endswith("<fim_prefix>x = <fim_suffix>\n<fim_middle>")
    finally:
        await end_session(session)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_tcp_transport_on_loopback(tmp_path: Path, tiny_starcoder_dir: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "starcoder_ls", "serve", "--tcp", str(port)]
    command += ["--model", str(tiny_starcoder_dir), "--log-file", str(tmp_path / "tcp.log")]
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    client = LanguageClient("tcp-test", "1")
    try:
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result = await client.initialize_async(
            types.InitializeParams(capabilities=capabilities(VSCODE))
        )
        assert result.server_info.name == "starcoder-ls"
        assert result.capabilities.inline_completion_provider is not None
        client.initialized(types.InitializedParams())
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        server.terminate()
        server.wait(10)
    assert f"serving LSP on 127.0.0.1:{port}" in (tmp_path / "tcp.log").read_text()
