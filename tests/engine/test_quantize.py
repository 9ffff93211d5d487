"""cpuWeights (engine/quantize.py): float16 products for short inputs by default on a CPU in
float32, int8 layers where asked, the weights as loaded otherwise, and a model that still
generates with everything the engine does around it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from starcoder_ls.config import Settings, engine_settings, merge
from starcoder_ls.engine import quantize
from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings

PREFIX = "".join(f"def add{n}(a, b):\n    return a + b + {n}\n\n" for n in range(12)) + "def f"


def load(directory: Path, cpu_weights: str, dtype: str = "float32") -> LocalEngine:
    return LocalEngine.load(
        EngineSettings(model=str(directory), dtype=dtype, cpu_weights=cpu_weights)
    )


def test_wanted_only_on_a_cpu_in_float32() -> None:
    assert quantize.wanted("int8", "cpu", torch.float32) == "int8"
    assert quantize.wanted("float16", "cpu", torch.float32) == "float16"
    assert quantize.wanted("auto", "cpu", torch.float32) == "float16"  # int8 failed the check
    for weights in ("auto", "float16", "int8"):
        assert quantize.wanted(weights, "cpu", torch.bfloat16) is None
        assert quantize.wanted(weights, "cuda:0", torch.float32) is None
    assert quantize.wanted("float", "cpu", torch.float32) is None
    with pytest.raises(ValueError, match="cpuWeights"):
        quantize.wanted("int4", "cpu", torch.float32)


def test_the_setting_is_checked_and_reaches_the_engine() -> None:
    result = merge(Settings(), {"cpuWeights": "int8"})
    assert not result.errors
    assert engine_settings(result.settings).cpu_weights == "int8"
    assert result.settings.model_key != Settings().model_key  # a change reloads
    assert merge(Settings(), {"cpuWeights": "int4"}).errors


def test_an_unknown_value_is_refused_before_loading(tiny_starcoder_dir: Path) -> None:
    with pytest.raises(EngineError, match="cpuWeights"):
        load(tiny_starcoder_dir, "int4")


def test_float_leaves_the_model_as_loaded(tiny_starcoder_dir: Path) -> None:
    engine = load(tiny_starcoder_dir, "float")
    assert quantize.int8_layers(engine.model) == 0
    assert quantize.float16_layers(engine.model) == 0
    assert "weights" not in engine.info.extra
    engine.close()


def test_auto_gives_a_cpu_model_float16_products_for_decoding(tiny_starcoder_dir: Path) -> None:
    engine = load(tiny_starcoder_dir, "auto")
    assert engine.info.extra["weights"] == "float16"
    linears = [m for m in engine.model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and quantize.float16_layers(engine.model) == len(linears)
    head = engine.model.get_output_embeddings()
    assert head.weight.dtype == torch.float32  # the float32 weights stay, for prefill
    assert head.weight is engine.model.get_input_embeddings().weight  # still tied
    engine.close()


def test_float16_products_only_for_short_inputs(tiny_starcoder_dir: Path) -> None:
    """One decode step's logits move by float16 rounding only; a prefill longer than
    `HALF_ROWS` tokens is float32's to the bit."""
    exact, half = load(tiny_starcoder_dir, "float"), load(tiny_starcoder_dir, "float16")
    ids = torch.tensor([exact.encode(PREFIX)])
    with torch.inference_mode():
        want = exact.model(input_ids=ids).logits
        got = half.model(input_ids=ids).logits
        assert torch.equal(want, got)
        step_want = exact.model(input_ids=ids[:, -1:]).logits
        step_got = half.model(input_ids=ids[:, -1:]).logits
    assert not torch.equal(step_want, step_got)  # float16 did run
    assert torch.allclose(step_want, step_got, atol=2e-2, rtol=1e-2)
    exact.close()
    half.close()


@pytest.mark.parametrize("weights", ["int8", "float16", "auto"])
def test_16_bit_floats_change_nothing(tiny_starcoder_dir: Path, weights: str) -> None:
    engine = load(tiny_starcoder_dir, weights, dtype="bfloat16")
    assert quantize.int8_layers(engine.model) == 0
    assert quantize.float16_layers(engine.model) == 0
    assert "weights" not in engine.info.extra
    engine.close()


@pytest.mark.parametrize(
    ("weights", "layers"), [("int8", quantize.int8_layers), ("float16", quantize.float16_layers)]
)
def test_smaller_weights_generate_with_reuse_healing_and_lookup(
    tiny_starcoder_dir: Path, weights: str, layers: Callable[[Any], int]
) -> None:
    engine = load(tiny_starcoder_dir, weights)
    assert layers(engine.model) > 0
    assert engine.info.extra["weights"] == weights
    cancel = threading.Event()
    params = GenerationParams(max_new_tokens=6, token_healing=True, prompt_lookup=2)
    first = engine.generate(PREFIX, params, cancel)
    again = engine.generate(PREFIX + " a", params, cancel)
    assert first.choices[0].tokens > 0
    assert again.prefilled_tokens < again.prompt_tokens  # resumed from the kept cache
    sampled = GenerationParams(max_new_tokens=4, temperature=0.8, n=2, seed=1)
    assert len(engine.generate(PREFIX, sampled, cancel).choices) == 2
    engine.close()


@pytest.mark.slow
def test_int8_next_tokens_on_the_embedded_model_stay_close(embedded_engine: LocalEngine) -> None:
    """The argmax after each position of real code, float32 against int8: measured 0.56 on
    20 HumanEval prefixes (docs/benchmarks.md); lossy, which is why "auto" is float."""
    import copy

    text = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + "
    ids = torch.tensor([embedded_engine.encode(text * 3)])
    int8 = copy.deepcopy(embedded_engine.model)
    quantize.to_int8(int8)
    with torch.inference_mode():
        want = embedded_engine.model(input_ids=ids).logits[0].argmax(-1)
        got = int8(input_ids=ids).logits[0].argmax(-1)
    assert (want == got).float().mean().item() >= 0.4


def test_bench_weights_measures_agreement(tiny_starcoder_dir: Path) -> None:
    from starcoder_ls.tools.bench_weights import _argmax_agreement, _shared_share

    assert _shared_share([1, 2, 3, 4], [1, 2, 9, 4]) == 0.5
    assert _shared_share([], []) == 1.0
    float_engine, int8_engine = load(tiny_starcoder_dir, "float"), load(tiny_starcoder_dir, "int8")
    assert _argmax_agreement(float_engine, float_engine, [PREFIX]) == 1.0
    assert 0.0 <= _argmax_agreement(float_engine, int8_engine, [PREFIX]) <= 1.0
    float_engine.close()
    int8_engine.close()
