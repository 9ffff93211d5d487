"""An invoked request's sampled alternatives are seeded by the prompt."""

from __future__ import annotations

import threading

from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineInfo, Generation, GenerationParams, GenerationResult
from starcoder_ls.fim import get_template
from starcoder_ls.service import CompletionRequest, CompletionService
from tests.unit.cursor import ctx_from


class Recorder:
    def __init__(self) -> None:
        self.info = EngineInfo(
            model="fake", template=get_template("starcoder"), context_window=2048
        )
        self.calls: list[GenerationParams] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event, **kwargs: object
    ) -> GenerationResult:
        self.calls.append(params)
        texts = ["sum(xs)"] if params.temperature == 0 else ["len(xs)", "max(xs)"]
        choices = tuple(Generation(text=t, tokens=3, stop_reason="stop") for t in texts)
        return GenerationResult(choices=choices[: params.n], prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


async def test_asking_again_draws_the_same_alternatives() -> None:
    engine = Recorder()
    service = CompletionService(
        Settings(debounce_ms=0),
        engine_factory=lambda *args, **kwargs: engine,
        current_version=lambda uri: 1,
    )
    try:
        assert (await service.load()).state == "ready"
        first = ctx_from("def f(xs):\n    total = █\n    return total\n")
        other = ctx_from("def g(xs):\n    best = █\n    return best\n")
        shown = []
        for ctx in (first, first, other):
            service.cache.clear()  # generate again rather than reuse the last answer
            shown.append(await service.complete(CompletionRequest(ctx=ctx, invoked=True)))
    finally:
        service.shutdown()
    assert [s.text for s in shown[0]] == ["sum(xs)", "len(xs)", "max(xs)"]
    sampled = [call for call in engine.calls if call.temperature > 0]
    assert len(sampled) == 3 and all(call.n == 2 for call in sampled)
    assert sampled[0].seed is not None and sampled[0].seed == sampled[1].seed
    assert sampled[2].seed != sampled[0].seed
    assert all(call.seed is None for call in engine.calls if call.temperature == 0)
