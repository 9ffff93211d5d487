"""SDPA for one query token on a CPU, with the query heads of a key/value head packed.

A decode step attends with one query token. With grouped- or multi-query attention
(SmolLM2: 9 query heads over 3 key/value heads; StarCoder: 48 over 1), transformers hands
PyTorch's SDPA a one-token query with `enable_gqa`, and on a CPU in bfloat16 that kernel
is slow and grows with the context: 0.76 ms a layer at 1,800 tokens, where the same
numbers laid out as a query of `groups` tokens per key/value head (`heads // kv_heads`
rows, no causal mask: they are one position) take 0.12 ms, bit for bit the same output.
Over SmolLM2-135M's 30 layers, a 24-token greedy call decodes at 37 ms a token instead of 57
(docs/benchmarks.md). transformers already packs this way when a mask is present; this
does it always.

Applies to models whose attention goes through transformers' attention interface, on a
CPU, in 16-bit floats; everything else (prefill, masks per head, float32, which gains
nothing) is transformers' own SDPA. torch and transformers are imported inside the
functions.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

NAME = "sdpa_single_query"
"""The attention implementation's registered name (`config._attn_implementation`)."""

_registered = False


def _attention(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any
) -> tuple[Any, None]:
    """transformers' attention interface; `dropout` and `scaling` come as keywords, with
    the rest of what SDPA takes."""
    from torch.nn.functional import scaled_dot_product_attention
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    dropout = kwargs.get("dropout", 0.0)
    scaling = kwargs.get("scaling")
    batch, heads, length, dim = query.shape
    kv_heads, value_dim = key.shape[1], value.shape[-1]
    if (
        length == 1
        and heads > kv_heads
        and heads % kv_heads == 0
        and dropout == 0.0
        and kwargs.get("softcap") is None
        and kwargs.get("position_bias") is None
        and not kwargs.get("output_attentions")
        and (attention_mask is None or tuple(attention_mask.shape[1:3]) == (1, 1))
    ):
        packed = query.reshape(batch, kv_heads, heads // kv_heads, dim)
        out = scaled_dot_product_attention(
            packed, key, value, attn_mask=attention_mask, scale=scaling
        )
        return out.reshape(batch, heads, 1, value_dim).transpose(1, 2).contiguous(), None
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # the masks SDPA takes
    _registered = True


def adopt(model: Any) -> bool:
    """Switch `model` from SDPA to this where it gains (a CPU, 16-bit floats); whether it did."""
    import torch

    config = getattr(model, "config", None)
    if (
        config is None
        or getattr(config, "_attn_implementation", None) != "sdpa"
        or model.device.type != "cpu"
        or model.dtype not in (torch.bfloat16, torch.float16)
        or not model._can_set_attn_implementation()  # its attention is its own code
    ):
        return False
    _register()
    try:
        model.set_attn_implementation(NAME)
    except (ValueError, TypeError, AttributeError) as exc:  # a model that cannot switch
        log.debug("single-query attention not used: %s", exc)
        return False
    return config._attn_implementation == NAME
