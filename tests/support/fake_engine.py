"""A scripted stand-in for the model, and the completion service running on it.

Service tests need to see what the engine was asked (prompt, stops, seed) and to choose
what it answers, without loading a model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starcoder_ls.completion.request import CompletionRequest
from starcoder_ls.completion.selection import Selected
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineInfo, Generation, GenerationParams, GenerationResult
from starcoder_ls.engine.fim import PREFIX_ONLY, FimTemplate
from starcoder_ls.text.types import OpenDocument
from tests.support.cursor import CURSOR

Reply = Callable[[str, GenerationParams], list[str]]


@dataclass(frozen=True, kw_only=True)
class PrefilledResult(GenerationResult):
    """A result from an engine that reused part of the prompt's KV cache."""

    prefilled_tokens: int


class FakeEngine:
    """Answers each generate call with `reply(prompt, params)` and records the call.

    `prefilled` makes its results report that many prefilled tokens (an engine with KV
    reuse); without it they carry no such attribute.
    """

    def __init__(
        self, reply: Reply, template: FimTemplate = PREFIX_ONLY, *, prefilled: int | None = None
    ) -> None:
        self.info = EngineInfo(model="fake", template=template, context_window=2048)
        self.reply = reply
        self.prefilled = prefilled
        self.calls: list[tuple[str, GenerationParams]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event, **kwargs: object
    ) -> GenerationResult:
        self.calls.append((prompt, params))
        choices = tuple(
            Generation(text=text, tokens=5, stop_reason="stop")
            for text in self.reply(prompt, params)
        )
        if self.prefilled is not None:
            return PrefilledResult(
                choices=choices, prompt_tokens=3, generate_ms=1.0, prefilled_tokens=self.prefilled
            )
        return GenerationResult(choices=choices, prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


def request_from(
    marked: str,
    *,
    language_id: str = "python",
    uri: str = "file:///work/example.py",
    version: int = 1,
    invoked: bool = False,
    selected: Selected | None = None,
    other_documents: Iterable[OpenDocument] | Callable[[], Iterable[OpenDocument]] = (),
) -> CompletionRequest:
    """The request for the cursor at the single `█` in `marked` (positions in utf-32, so
    the character is the column)."""
    if marked.count(CURSOR) != 1:
        raise ValueError(f"expected exactly one {CURSOR} in {marked!r}")
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    if callable(other_documents):
        collect = other_documents
    else:
        documents = tuple(other_documents)

        def collect() -> tuple[OpenDocument, ...]:
            return documents

    return CompletionRequest(
        uri=uri,
        version=version,
        language_id=language_id,
        text=text,
        line=text.count("\n", 0, offset),
        character=offset - (text.rfind("\n", 0, offset) + 1),
        encoding="utf-32",
        invoked=invoked,
        selected=selected,
        other_documents=collect,
    )


class Gate:
    """A reply that holds the model's thread inside a generate call until the test
    releases it, so that the test can act while the model works.

    `holds(prompt)` picks the calls held (default: every call); the others answer at once.
    """

    def __init__(self, reply: Reply, holds: Callable[[str], bool] = lambda prompt: True) -> None:
        self.answer = reply
        self.holds = holds
        self.generating = threading.Event()
        self.release = threading.Event()

    def reply(self, prompt: str, params: GenerationParams) -> list[str]:
        if self.holds(prompt):
            self.generating.set()
            assert self.release.wait(30)
        return self.answer(prompt, params)

    async def entered(self) -> None:
        """Until a held call has started."""
        assert await asyncio.to_thread(self.generating.wait, 30)


@asynccontextmanager
async def serving(
    engine: FakeEngine,
    settings: Settings,
    *,
    current_version: Callable[[str], int | None] = lambda uri: 1,
) -> AsyncIterator[CompletionService]:
    """A loaded `CompletionService` on `engine`, shut down on exit; `current_version`: the
    editor's version of each document (every one at 1 unless the test moves them)."""
    service = CompletionService(
        settings,
        engine_factory=lambda settings, progress: engine,
        current_version=current_version,
    )
    try:
        assert (await service.load()).state == "ready"
        yield service
    finally:
        service.shutdown()
