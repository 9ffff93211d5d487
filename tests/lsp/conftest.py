"""End-to-end fixtures: a real `starcoder-ls` subprocess driven over stdio by pytest-lsp,
with the capability sets of real editors."""

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

VSCODE = "visual-studio-code"
NEOVIM = "neovim"
PROFILES = (VSCODE, NEOVIM)


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

    @property
    def encoding(self) -> str:
        return str(self.capabilities.position_encoding or "utf-16")

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

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


async def start_session(
    profile: str, log_file: Path, *args: str, options: dict[str, Any] | None = None
) -> Session:
    command = [sys.executable, "-m", "starcoder_ls", "serve", "--log-file", str(log_file), *args]
    client = await ClientServerConfig(server_command=command).start()
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(profile),
            initialization_options=options or {},
            workspace_folders=[],
        )
    )
    return Session(client, profile, log_file, result.capabilities)


async def end_session(session: Session) -> None:
    await session.client.shutdown_session()
    await session.client.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=PROFILES)
async def tiny(
    request: pytest.FixtureRequest,
    tiny_starcoder_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Session]:
    """The server on the tiny random StarCoder (FIM path), debug log, no debounce."""
    log_file = tmp_path_factory.mktemp("log") / "server.log"
    session = await start_session(
        request.param,
        log_file,
        "--model",
        str(tiny_starcoder_dir),
        "--log-level",
        "debug",
        options={"debounceMs": 0, "maxNewTokens": 8},
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
