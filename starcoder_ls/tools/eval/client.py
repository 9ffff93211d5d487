"""The harness's editor: tasks opened, completed and closed through `starcoder_ls.tools.driver`,
the same LSP client `demo` and `bench` use.

Going through the protocol (not calling `CompletionService` directly) is the point: the
figures then include position conversion, triggering, scheduling, the cache and the
post-processing filters, everything a user's keystroke goes through.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from starcoder_ls.cursor.context import offset_at_or_raise
from starcoder_ls.tools.driver import ENCODING, Driver, item_text
from starcoder_ls.tools.eval.scoring import Answer, Edit
from starcoder_ls.tools.eval.tasks import Task


class EvalClient:
    """One server subprocess for a whole run; each task's document is opened, asked about
    and closed, so no task sees another's text."""

    def __init__(self, root: Path, *, request_timeout_s: float = 300.0) -> None:
        self._root = root
        self._driver = Driver("starcoder-ls-eval", request_timeout_s=request_timeout_s)

    async def start(self, server_args: list[str], settings: dict[str, Any]) -> None:
        await self._driver.start(server_args, settings)

    @property
    def stderr_tail(self) -> str:
        return self._driver.stderr_tail

    async def wait_ready(self, timeout_s: float) -> dict[str, str]:
        return await self._driver.wait_ready(timeout_s)

    async def configure(self, settings: dict[str, Any]) -> None:
        await self._driver.configure(settings)

    def uri(self, task: Task) -> str:
        return self._uri(task.path)

    def open(self, task: Task) -> None:
        """Open the task's related files, then its own document (the one being edited)."""
        for other in task.related:
            self._driver.set_text(self._uri(other.path), other.text, other.language_id)
        self._driver.set_text(self.uri(task), task.text, task.language_id)

    def close(self, task: Task) -> None:
        self._driver.close(self.uri(task))
        for other in task.related:
            self._driver.close(self._uri(other.path))

    def _uri(self, path: str) -> str:
        return (self._root / path).resolve().as_uri()

    async def complete(self, task: Task, *, invoked: bool = False) -> Answer:
        """The first inline item as an edit of the task's text; an empty edit when none.

        `invoked` asks as an explicit request (several candidates; the editor shows the
        first) instead of an automatic one.

        A timeout or an error answer is recorded on the task and the run goes on.
        """
        line_text = task.text.split("\n")[task.line]
        nothing = Edit(text="", start=task.offset, end=task.offset)
        started = time.perf_counter()
        try:
            items, ms = await self._driver.inline(
                self.uri(task), task.line, task.column, line_text, invoked=invoked
            )
        except asyncio.TimeoutError:
            ms = (time.perf_counter() - started) * 1000
            return Answer(edit=nothing, latency_ms=ms, error=f"no answer in {ms / 1000:.0f} s")
        except Exception as exc:  # an LSP error answer
            ms = (time.perf_counter() - started) * 1000
            return Answer(edit=nothing, latency_ms=ms, error=f"{type(exc).__name__}: {exc}")
        if not items:
            return Answer(edit=nothing, latency_ms=ms)
        return Answer(edit=self._edit(task, items[0]), latency_ms=ms)

    def _edit(self, task: Task, item: types.InlineCompletionItem) -> Edit:
        text = item_text(item)
        if item.range is None:
            return Edit(text=text, start=task.offset, end=task.offset)
        start, end = item.range.start, item.range.end
        return Edit(
            text=text,
            start=offset_at_or_raise(task.text, start.line, start.character, ENCODING),
            end=offset_at_or_raise(task.text, end.line, end.character, ENCODING),
        )

    async def stop(self) -> None:
        await self._driver.stop()
