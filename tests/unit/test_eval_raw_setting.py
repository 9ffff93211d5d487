"""The `postprocess` setting the eval's raw baseline relies on: off returns the model's text
untouched, and switching it keeps the cache so the baseline costs no second generation."""

from __future__ import annotations

import threading

from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.base import EngineInfo, Generation, GenerationParams, GenerationResult
from starcoder_ls.fim import PREFIX_ONLY
from starcoder_ls.service import CompletionRequest, CompletionService
from tests.unit.cursor import ctx_from

MODEL_TEXT = "a + b  \n\ndef sub(a, b):"


class CountingEngine:
    info = EngineInfo(model="fake", template=PREFIX_ONLY, context_window=2048)

    def __init__(self) -> None:
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event, **kwargs: object
    ) -> GenerationResult:
        self.calls += 1
        text = MODEL_TEXT.split("\n")[0] if "\n" in params.stop else MODEL_TEXT
        choice = Generation(text=text, tokens=5, stop_reason="stop")
        return GenerationResult(choices=(choice,) * params.n, prompt_tokens=3, generate_ms=1.0)

    def close(self) -> None:
        pass


def test_postprocess_is_a_boolean_setting_on_by_default() -> None:
    assert Settings().postprocess is True
    assert merge(Settings(), {"postprocess": False}).settings.postprocess is False
    result = merge(Settings(), {"postprocess": "no"})
    assert result.settings.postprocess is True
    assert "starcoder.postprocess" in result.errors[0]


async def test_raw_answer_is_the_same_generation_unfiltered_and_costs_no_model_call() -> None:
    engine = CountingEngine()
    service = CompletionService(
        Settings(debounce_ms=0),
        engine_factory=lambda *args, **kwargs: engine,
        current_version=lambda uri: 1,
    )
    try:
        assert (await service.load()).state == "ready"
        request = CompletionRequest(ctx=ctx_from("def add(a, b):\n    return █\n"))

        filtered = await service.complete(request)
        assert [s.text for s in filtered] == ["a + b"]  # trailing blanks trimmed

        service.update_settings(Settings(debounce_ms=0, postprocess=False))
        raw = await service.complete(request)
        assert [s.text for s in raw] == ["a + b  "]
        assert raw[0].character == raw[0].end_character == request.ctx.character
        assert engine.calls == 1

        service.update_settings(Settings(debounce_ms=0, postprocess=False, max_new_tokens=64))
        await service.complete(request)
        assert engine.calls == 2  # a setting that shapes generation still clears the cache
    finally:
        service.shutdown()
