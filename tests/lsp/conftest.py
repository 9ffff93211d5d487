"""End-to-end fixtures: a real `starcoder-ls` subprocess driven over stdio by pytest-lsp,
with the capability sets of real editors.

`scripted` runs the server on an engine whose answers each test chooses, so every check
on items can name the exact text expected; `tiny` and `embedded` run it on real models,
for the tests where the model itself is the point.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.support import scripted_server
from tests.support.scripted_server import read_calls, write_script

VSCODE = "visual-studio-code"
NEOVIM = "neovim"
EMACS = "emacs"
"""Eglot (Emacs 29.1): no inline completion, utf-32 positions first."""
PROFILES = (VSCODE, NEOVIM, EMACS)


def capabilities(profile: str) -> types.ClientCapabilities:
    """The editor's recorded capabilities; VS Code as vscode-languageclient 10 (inline)."""
    caps = client_capabilities(profile)
    if profile == VSCODE:
        caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(
            dynamic_registration=True
        )
    return caps


@dataclass
class Session:
    client: LanguageClient
    profile: str
    log_file: Path
    capabilities: types.ServerCapabilities
    record_file: Path | None = None
    """Where the server's engine records each generate call (`scripted_server`)."""
    script_file: Path | None = None
    """The scripted engine's answers; `script` rewrites it."""

    @property
    def encoding(self) -> str:
        return str(self.capabilities.position_encoding or "utf-16")

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def script(self, *rules: dict[str, Any]) -> None:
        """Answer the next requests by these rules (`scripted_server` describes them)."""
        assert self.script_file is not None, "not a scripted session"
        write_script(self.script_file, rules)

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        """Generate calls the engine received, from the `since`-th on (a `len` taken earlier)."""
        assert self.record_file is not None, "this session records no engine calls"
        return read_calls(self.record_file)[since:]

    async def wait_for_call(self, since: int, timeout_s: float = 30) -> dict[str, Any]:
        """The first call after `since`, as soon as it reaches the engine."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not (calls := self.calls(since)):
            assert loop.time() < deadline, "no request reached the engine"
            await asyncio.sleep(0.02)
        return calls[0]

    async def status(self) -> dict[str, Any]:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="starcoder.status")
        )

    async def wait_ready(self, timeout_s: float = 300) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            status = await self.status()
            if status["state"] in ("ready", "error") or loop.time() > deadline:
                return status
            await asyncio.sleep(0.1)

    def open(self, uri: str, text: str, language_id: str = "python", version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=version, text=text
                )
            )
        )

    def replace(
        self, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
    ) -> None:
        """An incremental change, as editors send them."""
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=start[0], character=start[1]),
                            end=types.Position(line=end[0], character=end[1]),
                        ),
                        text=text,
                    )
                ],
            )
        )

    def inline_params(
        self, uri: str, line: int, character: int, *, invoked: bool = False, selected: Any = None
    ) -> types.InlineCompletionParams:
        kind = types.InlineCompletionTriggerKind
        return types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=kind.Invoked if invoked else kind.Automatic,
                selected_completion_info=selected,
            ),
        )

    async def inline(
        self, uri: str, line: int, character: int, **kwargs: Any
    ) -> types.InlineCompletionList:
        return await self.client.text_document_inline_completion_async(
            self.inline_params(uri, line, character, **kwargs)
        )

    def start_inline(self, uri: str, line: int, character: int) -> asyncio.Task[Any]:
        """A request left running, to be superseded, cancelled or raced by the test."""
        request = self.client.text_document_inline_completion_async(
            self.inline_params(uri, line, character)
        )
        return asyncio.ensure_future(request)

    async def configure(self, settings: dict[str, Any]) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"starcoder": settings})
        )
        await self.status()  # a round trip: the notification has been handled


@pytest.fixture(scope="session")
def sample_text() -> str:
    return (resources.files("starcoder_ls.samples") / "inventory.py").read_text()


SCRIPTED_SERVER = Path(scripted_server.__file__)


async def start_session(
    profile: str,
    log_file: Path,
    *args: str,
    options: dict[str, Any] | None = None,
    record_file: Path | None = None,
    script_file: Path | None = None,
) -> Session:
    """The `starcoder-ls serve` command line; `scripted_server` when the engine's calls are
    recorded or scripted."""
    if record_file is None and script_file is None:
        command = [sys.executable, "-m", "starcoder_ls", "serve"]
    else:
        command = [sys.executable, str(SCRIPTED_SERVER)]
        command += ["--record", str(record_file)] if record_file else []
        command += ["--script", str(script_file)] if script_file else []
    command += ["--log-file", str(log_file), *args]
    client = await ClientServerConfig(server_command=command).start()
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(profile),
            initialization_options=options or {},
            workspace_folders=[],
        )
    )
    return Session(client, profile, log_file, result.capabilities, record_file, script_file)


async def end_session(session: Session) -> None:
    await session.client.shutdown_session()
    await session.client.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=PROFILES)
async def scripted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Session]:
    """The server on a scripted engine (StarCoder's FIM template), no debounce, info log.

    Each test sets its answers with `Session.script` and reads the prompts with `calls`.
    """
    folder = tmp_path_factory.mktemp("scripted")
    script_file = folder / "script.json"
    write_script(script_file, [])
    session = await start_session(
        request.param,
        folder / "server.log",
        options={"debounceMs": 0, "maxNewTokens": 16},
        record_file=folder / "calls.jsonl",
        script_file=script_file,
    )
    status = await session.wait_ready()
    assert status["state"] == "ready", json.dumps(status)
    yield session
    await end_session(session)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tiny(
    tiny_starcoder_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Session]:
    """The server on the tiny random StarCoder (real tokenizer, FIM path), no debounce.

    One editor profile: what these tests look at (prompt, generation) is the model's side,
    which no client capability changes; the protocol runs per profile on `scripted`.
    """
    folder = tmp_path_factory.mktemp("tiny")
    session = await start_session(
        VSCODE,
        folder / "server.log",
        "--model",
        str(tiny_starcoder_dir),
        options={"debounceMs": 0, "maxNewTokens": 8},
        record_file=folder / "calls.jsonl",
    )
    status = await session.wait_ready()
    assert status["state"] == "ready", json.dumps(status)
    yield session
    await end_session(session)


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=PROFILES)
async def embedded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Session]:
    """The server on the embedded SmolLM2-135M, as `make run` starts it."""
    log_file = tmp_path_factory.mktemp("log") / "server.log"
    session = await start_session(
        request.param, log_file, options={"debounceMs": 0, "maxNewTokens": 24}
    )
    status = await session.wait_ready()
    assert status["state"] == "ready", json.dumps(status)
    yield session
    await end_session(session)
