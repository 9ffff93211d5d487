"""The GPU path's switches (attention, staticCache, compile): what each asks of the loader
and of `generate`, CUDA-only ones ignored elsewhere, and static caches giving the same
answers; the CUDA runs themselves are marked `gpu`."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from starcoder_ls.completion import lifecycle
from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.acceleration import Acceleration
from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> LocalEngine:
    # float32 whatever the CPU: these tests compare outputs token for token.
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("attention", "kwargs"),
    [
        ("auto", {}),
        ("sdpa", {"attn_implementation": "sdpa"}),
        ("eager", {"attn_implementation": "eager"}),
    ],
)
def test_attention_chooses_the_loader_argument(attention: str, kwargs: dict) -> None:
    assert Acceleration(attention=attention).load_kwargs() == kwargs


def test_an_unknown_attention_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, sdpa, eager"):
        Acceleration(attention="flash")
    assert "attention" in merge(Settings(), {"attention": "flash"}).errors[0]


def test_cuda_only_switches_are_ignored_elsewhere_with_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    both = Acceleration(attention="eager", static_cache=True, compile=True)
    with caplog.at_level(logging.INFO, logger="starcoder_ls.engine.acceleration"):
        on_cpu = both.on("cpu")
        Acceleration(compile=True).on("mps")
        Acceleration().on("cpu")

    assert on_cpu == Acceleration(attention="eager")
    assert [r.getMessage() for r in caplog.records] == [
        "staticCache and compile need CUDA; ignored on cpu",
        "compile needs CUDA; ignored on mps",
    ]


def test_compile_on_cuda_brings_the_static_cache_it_needs() -> None:
    assert Acceleration(compile=True).on("cuda:1") == Acceleration(static_cache=True, compile=True)
    assert Acceleration(static_cache=True).on("cuda").generation_kwargs() == {
        "disable_compile": True
    }, "transformers would compile a static cache's decode step unasked"
    assert Acceleration(compile=True).on("cuda").generation_kwargs() == {"disable_compile": False}


def test_the_loader_gets_the_attention_and_cpu_drops_the_rest(
    tiny_starcoder_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from transformers import AutoModelForCausalLM

    seen: list[dict[str, Any]] = []
    original = AutoModelForCausalLM.from_pretrained

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", recording)
    with caplog.at_level(logging.INFO, logger="starcoder_ls.engine.acceleration"):
        eager = LocalEngine.load(
            EngineSettings(
                model=str(tiny_starcoder_dir), attention="eager", static_cache=True, compile=True
            )
        )
        auto = LocalEngine.load(
            EngineSettings(model=str(tiny_starcoder_dir), dtype="float32")
        )  # 16-bit: packed SDPA

    assert seen[0]["attn_implementation"] == "eager"
    assert "attn_implementation" not in seen[1]
    assert eager.model.config._attn_implementation == "eager"
    assert auto.model.config._attn_implementation == "sdpa", "auto: SDPA where supported"
    assert eager.acceleration == Acceleration(attention="eager")
    assert "staticCache and compile need CUDA; ignored on cpu" in caplog.messages


def test_an_unknown_attention_fails_the_load_with_its_name(tiny_starcoder_dir: Path) -> None:
    with pytest.raises(EngineError, match="attention must be one of"):
        LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), attention="flash"))


def test_the_settings_reach_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[EngineSettings] = []
    monkeypatch.setattr(LocalEngine, "load", lambda settings, **kwargs: seen.append(settings))
    wire = {"draftModel": "bigcode/tiny_starcoder", "attention": "eager"}
    settings = merge(Settings(), {**wire, "staticCache": True, "compile": True}).settings

    lifecycle.load_engine(settings, None)

    assert (seen[0].draft_model, seen[0].attention) == ("bigcode/tiny_starcoder", "eager")
    assert seen[0].static_cache is seen[0].compile is True
    others = {"draftModel": "d", "attention": "eager", "staticCache": True, "compile": True}
    for name, value in others.items():
        changed = merge(Settings(), {name: value}).settings
        assert changed.model_key != Settings().model_key, f"{name} reloads the model"
    assert merge(Settings(), {"promptLookup": 5}).settings.model_key == Settings().model_key


def test_static_caches_give_the_same_answers_and_are_reused(engine: LocalEngine) -> None:
    """Static caches are the CUDA path, but work on any device: forced here on the CPU."""
    static = LocalEngine(
        model=engine.model,
        tokenizer=engine.tokenizer,
        info=engine.info,
        acceleration=Acceleration(static_cache=True),
    )
    dynamic = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)
    prefix = Path(threading.__file__).read_text()[:2000]
    calls = [
        (prefix, GenerationParams(max_new_tokens=8)),
        (prefix + "x", GenerationParams(max_new_tokens=8, stop=("\n",))),
        (prefix + "x", GenerationParams(max_new_tokens=6, temperature=0.7, n=2, seed=1)),
        (prefix + "xy", GenerationParams(max_new_tokens=8, prompt_lookup=4)),
    ]

    def answers(target: LocalEngine) -> list:
        return [target.generate(text, params, threading.Event()) for text, params in calls]

    with_static, with_dynamic = answers(static), answers(dynamic)

    assert [r.choices for r in with_static] == [r.choices for r in with_dynamic]
    assert [r.prefilled_tokens for r in with_static] == [r.prefilled_tokens for r in with_dynamic]
    assert with_static[1].prefilled_tokens < with_static[0].prefilled_tokens / 10
    with torch.inference_mode():  # where the engine's worker touches its caches
        kept, _ = static.prefix_cache.take(static.encode(prefix + "xy"))
    assert type(kept).__name__ == "StaticCache"


def test_a_call_longer_than_the_static_window_grows_its_own_cache(engine: LocalEngine) -> None:
    small = dataclasses.replace(engine.info, context_window=300)
    static = LocalEngine(
        model=engine.model,
        tokenizer=engine.tokenizer,
        info=small,
        acceleration=Acceleration(static_cache=True),
    )
    dynamic = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=small)
    prompt = Path(threading.__file__).read_text()[:900]
    params = GenerationParams(max_new_tokens=40)

    long_static = static.generate(prompt, params, threading.Event())
    long_dynamic = dynamic.generate(prompt, params, threading.Event())

    assert long_static.prompt_tokens + 40 > 300
    assert long_static.choices == long_dynamic.choices


@pytest.mark.gpu
def test_on_cuda_static_cache_and_compile_give_the_same_answers(tiny_starcoder_dir: Path) -> None:
    plain = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), device="cuda"))
    fast = LocalEngine.load(
        EngineSettings(
            model=str(tiny_starcoder_dir), device="cuda", static_cache=True, compile=True
        )
    )
    prefix = Path(threading.__file__).read_text()[:2000]
    params = GenerationParams(max_new_tokens=16)

    assert fast.acceleration == Acceleration(static_cache=True, compile=True)
    for typed in ("", "x", "xy"):
        want = plain.generate(prefix + typed, params, threading.Event())
        got = fast.generate(prefix + typed, params, threading.Event())
        assert got.choices == want.choices
