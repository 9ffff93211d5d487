"""LocalEngine on the tiny random StarCoder: prompts, stopping, cancellation, errors."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch

from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings
from tests.support.logit_steering import ban, force, steered

PREFIX = "def add(a, b):\n    return"
SUFFIX = "\n\nprint(add(1, 2))\n"


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> LocalEngine:
    # float32 whatever the CPU: these tests compare outputs token for token.
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


def ids_of(engine: LocalEngine, text: str) -> list[int]:
    return engine.tokenizer.encode(text, add_special_tokens=False)


def special(engine: LocalEngine, token: str) -> int:
    return engine.tokenizer.convert_tokens_to_ids(token)


def eos(engine: LocalEngine) -> int:
    return engine.tokenizer.eos_token_id


def generate(engine: LocalEngine, prompt: str = PREFIX, **params: object):
    """Without token healing unless asked: these tests script the exact tokens after PREFIX."""
    params.setdefault("token_healing", False)
    return engine.generate(prompt, GenerationParams(**params), threading.Event())


def test_loads_with_starcoder_template_detected(engine: LocalEngine) -> None:
    info = engine.info
    assert info.template.name == "starcoder"
    assert info.context_window == 1024
    assert (info.device, info.dtype) == ("cpu", "float32")


def test_count_tokens_maps_sentinels_to_single_tokens(engine: LocalEngine) -> None:
    assert engine.count_tokens("<fim_prefix>") == 1
    assert engine.count_tokens("") == 0
    assert engine.count_tokens(PREFIX) == len(ids_of(engine, PREFIX))


def test_fim_prompt_reaches_the_model_as_special_ids_in_psm_order(engine: LocalEngine) -> None:
    prompt = engine.info.template.render(PREFIX, SUFFIX)
    with steered(engine.model, ban([eos(engine)])) as inputs:
        result = engine.generate(
            prompt, GenerationParams(max_new_tokens=2, kv_reuse=False), threading.Event()
        )
    first_pass = inputs[0][0].tolist()
    pre, suf, mid = (special(engine, t) for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"))
    assert first_pass[0] == pre
    assert first_pass.index(pre) < first_pass.index(suf) < first_pass.index(mid)
    assert first_pass[-1] == mid
    assert first_pass.count(pre) == first_pass.count(suf) == first_pass.count(mid) == 1
    assert engine.tokenizer.eos_token_id not in first_pass
    assert result.prompt_tokens == len(first_pass)


def test_bos_only_where_the_tokenizer_adds_it_and_never_eos(
    engine: LocalEngine, tiny_starcoder_dir: Path
) -> None:
    """CodeLlama-style tokenizers open with BOS (kept); some append EOS (never wanted).

    Without KV reuse, so that each first forward pass shows the whole prompt."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_starcoder_dir)
    tokenizer.add_bos_token = True
    tokenizer.add_eos_token = True
    wrapped = LocalEngine(model=engine.model, tokenizer=tokenizer, info=engine.info)
    prompt = engine.info.template.render(PREFIX, SUFFIX)
    params = GenerationParams(max_new_tokens=1, kv_reuse=False)
    with steered(engine.model, ban([eos(engine)])) as inputs:
        wrapped.generate(prompt, params, threading.Event())
        wrapped.generate("<|endoftext|>" + prompt, params, threading.Event())
    expected = [eos(engine), *ids_of(engine, prompt)]
    assert inputs[0][0].tolist() == expected
    assert inputs[1][0].tolist() == expected


def test_ids_handed_in_are_not_encoded_again_and_give_the_same_answer(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = engine.info.template.render(PREFIX, SUFFIX)
    ids = engine.encode(prompt)
    assert len(ids) == engine.count_tokens(prompt)
    params = GenerationParams(max_new_tokens=6, stop=("\n",))
    plain = engine.generate(prompt, params, threading.Event())
    encodes: list[str] = []
    original = engine.tokenizer.encode

    def counting(text: str, **kwargs: object) -> list[int]:
        encodes.append(text)
        return original(text, **kwargs)

    monkeypatch.setattr(engine.tokenizer, "encode", counting)
    handed = engine.generate(prompt, params, threading.Event(), prompt_ids=ids)
    assert encodes == []
    assert handed.choices == plain.choices
    assert handed.prompt_tokens == plain.prompt_tokens


def test_spm_order_when_forced(tiny_starcoder_dir: Path) -> None:
    spm = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), fim_template="starcoder-spm")
    )
    assert spm.info.template.name == "starcoder-spm"
    prompt = spm.info.template.render(PREFIX, SUFFIX)
    params = GenerationParams(max_new_tokens=1, token_healing=False, kv_reuse=False)
    with steered(spm.model, ban([eos(spm)])) as inputs:
        spm.generate(prompt, params, threading.Event())
    ids = inputs[0][0].tolist()
    pre, suf, mid = (special(spm, t) for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"))
    assert ids[:2] == [pre, suf]
    assert ids.index(suf) < ids.index(mid)
    assert ids[ids.index(mid) + 1 :] == ids_of(spm, PREFIX)
    spm.close()


def test_unknown_template_is_an_engine_error(tiny_starcoder_dir: Path) -> None:
    with pytest.raises(EngineError, match="no-such-template"):
        LocalEngine.load(
            EngineSettings(model=str(tiny_starcoder_dir), fim_template="no-such-template")
        )


def test_stops_at_max_new_tokens(engine: LocalEngine) -> None:
    with steered(engine.model, ban([eos(engine)])):
        result = generate(engine, max_new_tokens=7)
    (choice,) = result.choices
    assert (choice.tokens, choice.stop_reason) == (7, "length")
    assert result.generate_ms > 0 and not result.cancelled


def test_stops_at_eos_and_drops_it(engine: LocalEngine) -> None:
    script = [*ids_of(engine, " a + b"), eos(engine)]
    with steered(engine.model, force(script)):
        (choice,) = generate(engine, max_new_tokens=20).choices
    assert choice.stop_reason == "eos"
    assert choice.tokens == len(script)
    assert choice.text == " a + b"


def test_template_end_tokens_also_end_generation(engine: LocalEngine) -> None:
    script = [*ids_of(engine, " a"), special(engine, "<fim_pad>")]
    with steered(engine.model, force(script, banned=[eos(engine)])):
        (choice,) = generate(engine, max_new_tokens=20).choices
    assert (choice.stop_reason, choice.tokens, choice.text) == ("eos", len(script), " a")


def test_stops_at_stop_string_and_cuts_before_it(engine: LocalEngine) -> None:
    script = ids_of(engine, " a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    with steered(engine.model, force(script, banned=[eos(engine)])):
        (choice,) = generate(engine, max_new_tokens=40, stop=("\n\n",)).choices
    assert choice.stop_reason == "stop"
    assert choice.text == " a + b"
    assert choice.tokens < len(script)


def test_cancel_from_on_token_stops_within_one_step(engine: LocalEngine) -> None:
    cancel = threading.Event()
    seen: list[int] = []
    k = 3

    def on_token(generated: int) -> None:
        seen.append(generated)
        if generated == k:
            cancel.set()

    with steered(engine.model, ban([eos(engine)])):
        result = engine.generate(
            PREFIX, GenerationParams(max_new_tokens=50), cancel, on_token=on_token
        )
    (choice,) = result.choices
    assert result.cancelled
    assert choice.stop_reason == "cancelled"
    assert choice.tokens <= k + 1
    assert seen[:k] == list(range(1, k + 1))


def test_cancel_before_start_generates_nothing(engine: LocalEngine) -> None:
    cancel = threading.Event()
    cancel.set()
    result = engine.generate(PREFIX, GenerationParams(max_new_tokens=50), cancel)
    assert result.cancelled
    assert [(c.tokens, c.stop_reason) for c in result.choices] == [(0, "cancelled")]


def test_sampling_returns_n_choices_reproducibly_with_a_seed(engine: LocalEngine) -> None:
    params = dict(max_new_tokens=8, temperature=0.9, top_p=0.95, n=3, seed=7)
    with steered(engine.model, ban([eos(engine)])):
        first = generate(engine, **params)
        again = generate(engine, **params)
    assert len(first.choices) == 3
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    assert all(c.tokens == 8 and c.stop_reason == "length" for c in first.choices)


def test_greedy_returns_one_choice_even_when_n_is_larger(engine: LocalEngine) -> None:
    with steered(engine.model, ban([eos(engine)])):
        result = generate(engine, max_new_tokens=3, n=4)
    assert len(result.choices) == 1


def test_rows_finish_independently_and_padding_is_not_counted(engine: LocalEngine) -> None:
    word = ids_of(engine, " x")[0]

    def steer(step: int, logits: torch.Tensor) -> None:
        logits[:, eos(engine)] = float("-inf")
        if step == 1:
            logits[0] = float("-inf")
            logits[0, eos(engine)] = 0.0
        logits[1:, word] = float("-inf")

    with steered(engine.model, steer):
        result = generate(engine, max_new_tokens=6, temperature=1.0, n=2, seed=3)
    short, full = result.choices
    assert (short.stop_reason, short.tokens) == ("eos", 2)
    assert (full.stop_reason, full.tokens) == ("length", 6)


def test_out_of_memory_while_generating_is_reported_and_survivable(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def oom(**kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(engine.model, "generate", oom)
        with pytest.raises(EngineError, match="out of memory generating") as raised:
            generate(engine, max_new_tokens=4)
    assert raised.value.retry and raised.value.retry_after_s is None, "shown for each call"
    with steered(engine.model, ban([eos(engine)])):
        assert generate(engine, max_new_tokens=2).choices[0].tokens == 2


def test_an_empty_prompt_starts_a_new_document(engine: LocalEngine) -> None:
    with steered(engine.model, ban([eos(engine)])) as inputs:
        result = generate(engine, prompt="", max_new_tokens=3, kv_reuse=False)
    assert inputs[0][0].tolist() == [eos(engine)]
    assert result.choices[0].tokens == 3


def test_prompt_longer_than_the_model_is_an_engine_error(engine: LocalEngine) -> None:
    with pytest.raises(EngineError, match="reads at most 1024"):
        generate(engine, prompt="x = 1\n" * 2000)


def test_progress_is_reported_up_to_done(tiny_starcoder_dir: Path) -> None:
    steps: list[tuple[str, int | None]] = []
    LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir)), progress=lambda m, p: steps.append((m, p))
    ).close()
    percents = [p for _, p in steps]
    assert percents == sorted(percents) and percents[-1] == 100


def test_closed_engine_refuses_to_generate(tiny_starcoder_dir: Path) -> None:
    closed = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir)))
    closed.close()
    with pytest.raises(EngineError, match="unloaded"):
        generate(closed)


def test_explicit_dtype_and_context_window_are_honoured(tiny_starcoder_dir: Path) -> None:
    bf16 = LocalEngine.load(
        EngineSettings(
            model=str(tiny_starcoder_dir), device="cpu", dtype="bfloat16", context_window=512
        )
    )
    assert (bf16.info.dtype, bf16.info.context_window) == ("bfloat16", 512)
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    bf16.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "float8"}, "float8"),
        ({"device": "tpu"}, "tpu"),
        ({"device": "cuda:banana"}, "cuda:banana"),
    ],
)
def test_invalid_device_or_dtype(tiny_starcoder_dir: Path, kwargs: dict, message: str) -> None:
    if "cuda" in kwargs.get("device", "") and not torch.cuda.is_available():
        message = "CUDA is not available"
    with pytest.raises(EngineError, match=message):
        LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), **kwargs))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_says_so(tiny_starcoder_dir: Path) -> None:
    with pytest.raises(EngineError, match="CUDA is not available"):
        LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), device="cuda"))


def test_missing_model_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EngineError, match=f"model directory not found: {missing}") as raised:
        LocalEngine.load(EngineSettings(model=str(missing)))
    assert not raised.value.retry, "loading it again cannot work until the setting changes"


def test_directory_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not a model directory"):
        LocalEngine.load(EngineSettings(model=str(tmp_path)))


def test_unsupported_architecture(tiny_starcoder_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_starcoder_dir, tmp_path / "vit", dirs_exist_ok=True)
    (tmp_path / "vit" / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(EngineError, match="not a supported causal language model"):
        LocalEngine.load(EngineSettings(model=str(tmp_path / "vit")))


def test_unreachable_hub_model_explains_login(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EngineError) as raised:
        LocalEngine.load(EngineSettings(model="bigcode/starcoder-does-not-exist"))
    message = str(raised.value)
    assert "bigcode/starcoder-does-not-exist" in message
    assert "huggingface-cli login" in message


@pytest.mark.gpu
def test_tiny_model_on_cuda_in_bfloat16(tiny_starcoder_dir: Path) -> None:
    gpu = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), device="cuda", dtype="bfloat16")
    )
    try:
        assert gpu.info.device.startswith("cuda") and gpu.info.dtype == "bfloat16"
        prompt = gpu.info.template.render(PREFIX, SUFFIX)
        with steered(gpu.model, ban([eos(gpu)])):
            result = gpu.generate(prompt, GenerationParams(max_new_tokens=8), threading.Event())
            sampled = gpu.generate(
                prompt,
                GenerationParams(max_new_tokens=8, temperature=0.8, n=2, seed=1),
                threading.Event(),
            )
        assert result.choices[0].tokens == 8
        assert len(sampled.choices) == 2
    finally:
        gpu.close()


@pytest.mark.gpu
def test_auto_device_prefers_the_gpu(tiny_starcoder_dir: Path) -> None:
    gpu = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir)))
    try:
        expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        assert (gpu.info.device, gpu.info.dtype) == ("cuda:0", expected)
    finally:
        gpu.close()


def test_out_of_memory_while_loading_names_model_dtype_and_size(
    tiny_starcoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM

    def oom(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", oom)
    with pytest.raises(EngineError, match="out of memory loading .* in float32") as raised:
        LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    assert raised.value.__cause__ is None
    assert raised.value.retry and raised.value.retry_after_s is None, "memory may free up"
