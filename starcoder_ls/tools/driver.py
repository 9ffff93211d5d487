"""An editor in a few lines: drives `starcoder-ls serve` over stdio for `demo`, `bench`
and `eval`, so that what they show and measure is what an editor gets.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from starcoder_ls.cursor.context import character_to_units
from starcoder_ls.lsp.server import STATUS_COMMAND, STATUS_NOTIFICATION

ENCODING = "utf-16"
"""No position encoding is offered, so the server uses UTF-16, as with VS Code."""


class Driver:
    """One server subprocess; documents are opened, changed and closed as an editor does."""

    def __init__(self, name: str = "starcoder-ls-driver", *, request_timeout_s: float = 300):
        self.timeout_s = request_timeout_s
        self.client = LanguageClient(name, "0.1")
        self._versions: dict[str, int] = {}
        self._ids = 0
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._drain: asyncio.Task[None] | None = None
        # Status changes are announced; the driver polls instead, so drop them quietly.
        self.client.feature(STATUS_NOTIFICATION)(lambda *args: None)

    async def start(
        self,
        server_args: list[str],
        settings: dict[str, Any],
        *,
        command: list[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`command` (default: this Python's `-m starcoder_ls serve`) runs with `server_args`;
        `cwd` and `env` let a benchmark run the server of another checkout."""
        base = command or [sys.executable, "-m", "starcoder_ls", "serve"]
        await self.client.start_io(*base, *server_args, cwd=cwd, env=env)
        self._drain = asyncio.create_task(self._drain_stderr())
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    )
                ),
                initialization_options=settings,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def _drain_stderr(self) -> None:
        """pygls pipes the server's stderr and never reads it: a chatty server (a library's
        warnings) would block once the pipe is full. Keep the tail for error messages."""
        stream = getattr(getattr(self.client, "_server", None), "stderr", None)
        if stream is None:
            return
        while line := await stream.readline():
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    @property
    def server_pid(self) -> int | None:
        process = getattr(self.client, "_server", None)
        return getattr(process, "pid", None)

    async def status(self) -> dict[str, str]:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=STATUS_COMMAND)
        )

    async def wait_ready(self, timeout_s: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while True:
            status = await self.status()
            if status["state"] in ("ready", "error") or time.monotonic() > deadline:
                return status
            await asyncio.sleep(0.25)

    async def configure(self, settings: dict[str, Any]) -> None:
        """Change settings, then a round trip so the next request sees them."""
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"starcoder": settings})
        )
        await self.status()

    def set_text(self, uri: str, text: str, language_id: str = "python") -> None:
        """didOpen the first time, then a whole-document didChange."""
        version = self._versions.get(uri, 0) + 1
        self._versions[uri] = version
        if version == 1:
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id=language_id, version=version, text=text
                    )
                )
            )
            return
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def insert(self, uri: str, edits: Sequence[tuple[int, int, str, str]]) -> int:
        """One incremental didChange inserting each (line, column, line_text, text) in turn,
        as an editor sends keystrokes; `column` is a Python index into `line_text`, the line
        before that insertion. Returns the document's new version."""
        version = self._versions[uri] + 1
        self._versions[uri] = version
        changes: list[types.TextDocumentContentChangeEvent] = []
        for line, column, line_text, text in edits:
            at = types.Position(
                line=line, character=character_to_units(line_text, column, ENCODING)
            )
            changes.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text
                )
            )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=changes,
            )
        )
        return version

    def request(self, method: str, params: Any) -> tuple[str, Future[Any]]:
        """Send a request without waiting: its id (for `cancel`) and the future of its answer,
        resolved on the event loop's thread in the order answers arrive."""
        self._ids += 1
        msg_id = f"driver-{self._ids}"
        return msg_id, self.client.protocol.send_request(method, params, msg_id=msg_id)

    def cancel(self, msg_id: str) -> None:
        """`$/cancelRequest`, as an editor sends it when the user has typed on."""
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    def close(self, uri: str) -> None:
        self._versions.pop(uri, None)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    async def inline(
        self, uri: str, line: int, column: int, line_text: str, *, invoked: bool = False
    ) -> tuple[list[types.InlineCompletionItem], float]:
        """Items and the request's wall time in ms; `column` is a Python index into the line.

        Raises TimeoutError past the driver's timeout and JsonRpcException on an error answer.
        """
        params = inline_params(uri, line, column, line_text, invoked=invoked)
        started = time.perf_counter()
        result = await asyncio.wait_for(
            self.client.text_document_inline_completion_async(params), self.timeout_s
        )
        ms = (time.perf_counter() - started) * 1000
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        return list(items), ms

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 30)
        if self._drain is not None:
            self._drain.cancel()


def inline_params(
    uri: str, line: int, column: int, line_text: str, *, invoked: bool = False
) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(
            line=line, character=character_to_units(line_text, column, ENCODING)
        ),
        context=types.InlineCompletionContext(
            trigger_kind=kind.Invoked if invoked else kind.Automatic
        ),
    )


def item_text(item: types.InlineCompletionItem) -> str:
    text = item.insert_text
    return text if isinstance(text, str) else text.value
