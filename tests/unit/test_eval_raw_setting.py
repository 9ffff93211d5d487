"""The `postprocess` setting the eval's raw baseline relies on: off returns the model's text
untouched, and switching it keeps the cache so the baseline costs no second generation."""

from __future__ import annotations

from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.service import CompletionRequest
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, serving

MODEL_TEXT = "a + b  \n\ndef sub(a, b):"


def first_line_when_single_line(prompt: str, params: GenerationParams) -> list[str]:
    return [MODEL_TEXT.split("\n")[0] if "\n" in params.stop else MODEL_TEXT] * params.n


def test_postprocess_is_a_boolean_setting_on_by_default() -> None:
    assert Settings().postprocess is True
    assert merge(Settings(), {"postprocess": False}).settings.postprocess is False
    result = merge(Settings(), {"postprocess": "no"})
    assert result.settings.postprocess is True
    assert "starcoder.postprocess" in result.errors[0]


async def test_raw_answer_is_the_same_generation_unfiltered_and_costs_no_model_call() -> None:
    engine = FakeEngine(first_line_when_single_line)
    async with serving(engine, Settings(debounce_ms=0)) as service:
        request = CompletionRequest(ctx=ctx_from("def add(a, b):\n    return █\n"))

        filtered = await service.complete(request)
        assert [s.text for s in filtered] == ["a + b"]  # trailing blanks trimmed

        service.update_settings(Settings(debounce_ms=0, postprocess=False))
        raw = await service.complete(request)
        assert [s.text for s in raw] == ["a + b  "]
        assert raw[0].character == raw[0].end_character == request.ctx.character
        assert len(engine.calls) == 1

        service.update_settings(Settings(debounce_ms=0, postprocess=False, max_new_tokens=64))
        await service.complete(request)
        assert len(engine.calls) == 2  # a setting that shapes generation still clears the cache
