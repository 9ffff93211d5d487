"""A scripted stand-in for the model, and the completion service running on it.

Service tests need to see what the engine was asked (prompt, stops, seed) and to choose
what it answers, without loading a model.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineInfo, Generation, GenerationParams, GenerationResult
from starcoder_ls.fim import PREFIX_ONLY, FimTemplate
from starcoder_ls.service import CompletionService

Reply = Callable[[str, GenerationParams], list[str]]


class FakeEngine:
    """Answers each generate call with `reply(prompt, params)` and records the call."""

    def __init__(self, reply: Reply, template: FimTemplate = PREFIX_ONLY) -> None:
        self.info = EngineInfo(model="fake", template=template, context_window=2048)
        self.reply = reply
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
        return GenerationResult(choices=choices, prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


@asynccontextmanager
async def serving(engine: FakeEngine, settings: Settings) -> AsyncIterator[CompletionService]:
    """A loaded `CompletionService` on `engine`, shut down on exit."""
    service = CompletionService(
        settings,
        engine_factory=lambda *args, **kwargs: engine,
        current_version=lambda uri: 1,
    )
    try:
        assert (await service.load()).state == "ready"
        yield service
    finally:
        service.shutdown()
