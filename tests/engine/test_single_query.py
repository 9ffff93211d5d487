"""Packed single-query attention (engine/single_query.py): the same numbers as SDPA."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from starcoder_ls.engine import single_query
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings


def qkv(heads: int, kv_heads: int, length: int, *, context: int = 300, dtype=torch.bfloat16):
    generator = torch.Generator().manual_seed(heads * 100 + kv_heads)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(dtype)

    return (
        randn(1, heads, length, 64),
        randn(1, kv_heads, context, 64),
        randn(1, kv_heads, context, 64),
    )


@pytest.mark.parametrize(("heads", "kv_heads"), [(9, 3), (8, 1)], ids=["grouped", "multi-query"])
@pytest.mark.parametrize("masked", [False, True])
def test_one_query_token_gives_sdpas_numbers(
    heads: int, kv_heads: int, masked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("one query token went to transformers' SDPA")

    monkeypatch.setattr("transformers.integrations.sdpa_attention.sdpa_attention_forward", not_here)
    query, key, value = qkv(heads, kv_heads, 1)
    mask = None
    if masked:
        mask = torch.ones(1, 1, 1, key.shape[2], dtype=torch.bool)
        mask[..., :7] = False  # left padding, as a batch of prompts would have
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads)
    packed, _ = single_query._attention(module, query, key, value, mask, scaling=0.125)
    plain, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.125)
    assert packed.shape == plain.shape == (1, 1, heads, 64)
    torch.testing.assert_close(packed, plain, atol=1e-2, rtol=1e-2)
    if masked:  # the masked keys count for nothing
        unmasked, _ = single_query._attention(module, query, key, value, None, scaling=0.125)
        assert not torch.allclose(packed, unmasked)


def test_prefill_and_full_multi_head_attention_are_sdpas_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, ...]] = []

    def recording(module, query, *args, **kwargs):
        calls.append(tuple(query.shape))
        return sdpa_attention_forward(module, query, *args, **kwargs)

    monkeypatch.setattr(
        "transformers.integrations.sdpa_attention.sdpa_attention_forward", recording
    )
    module = SimpleNamespace(num_key_value_groups=1)
    for heads, kv_heads, length in [(9, 3, 5), (4, 4, 1)]:
        query, key, value = qkv(heads, kv_heads, length)
        module.num_key_value_groups = heads // kv_heads
        single_query._attention(module, query, key, value, None, scaling=0.125)
    assert calls == [(1, 9, 5, 64), (1, 4, 1, 64)]


@pytest.mark.parametrize(("dtype", "adopted"), [("bfloat16", True), ("float32", False)])
def test_the_engine_packs_on_a_cpu_in_16_bit_only_and_answers_the_same(
    tiny_starcoder_dir: Path, dtype: str, adopted: bool
) -> None:
    engine = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), device="cpu", dtype=dtype)
    )
    try:
        implementation = engine.model.config._attn_implementation
        assert implementation == (single_query.NAME if adopted else "sdpa")
        params = GenerationParams(max_new_tokens=12, token_healing=False, prompt_lookup=0)
        prompt = "def add(a, b):\n    return"
        first = engine.generate(prompt, params, threading.Event()).choices[0]
        engine.model.set_attn_implementation("sdpa")
        engine.prefix_cache.clear()
        again = engine.generate(prompt, params, threading.Event()).choices[0]
        assert first.tokens == again.tokens > 0
        assert first.text == again.text
    finally:
        engine.close()
