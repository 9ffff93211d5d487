"""Driving `starcoder-ls serve` over stdio exactly as an editor does: didOpen, an automatic
inline completion request at the cursor, didClose.

Going through the protocol (not calling `CompletionService` directly) is the point: the
figures then include position conversion, triggering, scheduling, the cache and the
post-processing filters, everything a user's keystroke goes through.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from starcoder_ls.context import character_to_units, offset_at
from starcoder_ls.eval.scoring import Answer, Edit
from starcoder_ls.eval.tasks import Task
from starcoder_ls.server import STATUS_COMMAND, STATUS_NOTIFICATION

ENCODING = "utf-16"
"""No position encoding is offered, so the server falls back to UTF-16, as with VS Code."""


class EvalClient:
    """One server subprocess for a whole run; documents are opened and closed per task."""

    def __init__(self, root: Path, *, request_timeout_s: float = 300.0) -> None:
        self._root = root
        self._timeout = request_timeout_s
        self._client = LanguageClient("starcoder-ls-eval", "0.1")
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._drain: asyncio.Task[None] | None = None
        # The server announces status changes; the harness polls instead, so drop them quietly.
        self._client.feature(STATUS_NOTIFICATION)(lambda *args: None)

    async def start(self, server_args: list[str], settings: dict[str, Any]) -> None:
        command = [sys.executable, "-m", "starcoder_ls", "serve", *server_args]
        await self._client.start_io(*command)
        self._drain = asyncio.create_task(self._drain_stderr())
        await self._client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    )
                ),
                initialization_options=settings,
            )
        )
        self._client.initialized(types.InitializedParams())

    async def _drain_stderr(self) -> None:
        """pygls pipes the server's stderr and never reads it: a chatty server (a library's
        warnings) would block once the pipe is full. Keep the tail for error messages."""
        process = getattr(self._client, "_server", None)
        stream = getattr(process, "stderr", None)
        if stream is None:
            return
        while line := await stream.readline():
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    async def status(self) -> dict[str, str]:
        return await self._client.workspace_execute_command_async(
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
        self._client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"starcoder": settings})
        )
        await self.status()

    def uri(self, task: Task) -> str:
        return (self._root / task.path).resolve().as_uri()

    def open(self, task: Task) -> None:
        self._client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri(task), language_id=task.language_id, version=1, text=task.text
                )
            )
        )

    def close(self, task: Task) -> None:
        self._client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri(task))
            )
        )

    async def complete(self, task: Task) -> Answer:
        """The first inline item as an edit of the task's text; an empty edit when none."""
        line_text = task.text.split("\n")[task.line]
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri(task)),
            position=types.Position(
                line=task.line, character=character_to_units(line_text, task.column, ENCODING)
            ),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
        nothing = Edit(text="", start=task.offset, end=task.offset)
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                self._client.text_document_inline_completion_async(params), self._timeout
            )
        except asyncio.TimeoutError:
            ms = (time.perf_counter() - started) * 1000
            return Answer(edit=nothing, latency_ms=ms, error=f"no answer in {self._timeout:.0f} s")
        except Exception as exc:  # an LSP error answer: record it, the run goes on
            ms = (time.perf_counter() - started) * 1000
            return Answer(edit=nothing, latency_ms=ms, error=f"{type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - started) * 1000
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        if not items:
            return Answer(edit=nothing, latency_ms=ms)
        return Answer(edit=self._edit(task, items[0]), latency_ms=ms)

    def _edit(self, task: Task, item: types.InlineCompletionItem) -> Edit:
        text = item.insert_text
        text = text if isinstance(text, str) else text.value
        if item.range is None:
            return Edit(text=text, start=task.offset, end=task.offset)
        start, end = item.range.start, item.range.end
        return Edit(
            text=text,
            start=offset_at(task.text, start.line, start.character, ENCODING),
            end=offset_at(task.text, end.line, end.character, ENCODING),
        )

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.shutdown_async(None), 30)
            self._client.exit(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.stop(), 30)
        if self._drain is not None:
            self._drain.cancel()
