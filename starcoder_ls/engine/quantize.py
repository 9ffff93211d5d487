"""Smaller weights for a float32 model on a CPU: the `cpuWeights` setting.

Decoding one token reads every weight; in float32 a 135M model is 540 MB a token, and a
CPU without bfloat16 instructions computes in nothing smaller: decoding is bound by
memory bandwidth (an AVX2 EPYC reads ~12 GB/s: ~45 ms a token for the linear layers).

- "float16" (`to_float16`): every `nn.Linear` (the language-model head included) keeps a
  float16 copy of its weight beside the float32 one. A product over at most
  `HALF_ROWS` rows (a decode step, a short check of guessed tokens) runs in float16 —
  PyTorch's float16 matrix-vector kernel converts with F16C and sums in float32 — and
  hands float32 back; longer inputs (prefill) use the float32 weight, where float16
  GEMMs are 4-6 times slower than float32 ones on such a CPU. Everything outside the
  products (norms, rotary, attention, the residual stream) stays float32. Measured on an
  AVX2 EPYC: decoding 1.6x faster; the argmax of the next token agreed with float32's
  at 99.8% of the positions of 30 HumanEval prefixes, 29 of 30 greedy first lines the
  same (bfloat16 products: 98.1%, 23 of 30). Costs half the weights' memory again.
- "int8" (`to_int8`): PyTorch's dynamic quantisation replaces each `nn.Linear` by one
  holding its weight in int8 with a scale per output channel, and quantises each
  activation on the fly (one scale a row) for fbgemm's/oneDNN's int8 GEMM. Faster still,
  but the answers move far from float32's: the argmax agreed at 56% of the positions;
  SmolLM2's activations have outlier channels one scale cannot cover. A weight-only
  int8 matmul with float activations has no fast CPU kernel in this PyTorch
  (`torch._weight_int8pack_mm`: 40 to 60 times slower than float32 on this CPU).
- "float": the weights as loaded.
- "auto": float16 (on a CPU in float32; nothing changes elsewhere).

docs/benchmarks.md has the figures ("float16 products on a CPU without bfloat16", "int8
weights on a CPU without bfloat16"). torch is imported inside the functions.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

CPU_WEIGHTS = ("auto", "float", "float16", "int8")

HALF_ROWS = 4
"""Products over at most this many rows run in float16 (`to_float16`): a float16 GEMM
over 8 rows already takes longer than float32's on an AVX2 CPU."""
"""What the `cpuWeights` setting accepts."""

_ENGINES = ("x86", "fbgemm")
"""PyTorch's quantised engines with int8 GEMM kernels for x86 CPUs, preferred in order."""


def wanted(cpu_weights: str, device: str, dtype: Any) -> str | None:
    """The smaller weights a model loaded on `device` in `dtype` gets: "float16", "int8",
    or None (as loaded). Only a CPU model in float32 gets any."""
    import torch

    if cpu_weights not in CPU_WEIGHTS:
        raise ValueError(f"cpuWeights must be one of {', '.join(CPU_WEIGHTS)}")
    if device != "cpu" or dtype != torch.float32 or cpu_weights == "float":
        return None
    if cpu_weights == "int8":
        return "int8" if _engine() is not None else None
    return "float16"


def convert(model: Any, weights: str) -> int:
    """Give `model` the weights `wanted` chose, in place; how many layers changed."""
    return to_int8(model) if weights == "int8" else to_float16(model)


def _engine() -> str | None:
    import torch

    supported = torch.backends.quantized.supported_engines
    return next((name for name in _ENGINES if name in supported), None)


def to_int8(model: Any, *, per_channel: bool = True) -> int:
    """Replace the model's `nn.Linear` layers by dynamically quantised int8 ones with a
    scale per output channel (per tensor: only for `bench weights` to compare), in place;
    how many were replaced."""
    import warnings

    import torch
    from torch.ao.quantization import (
        default_dynamic_qconfig,
        per_channel_dynamic_qconfig,
        quantize_dynamic,
    )

    engine = _engine()
    if engine is None:
        raise ValueError("this PyTorch has no int8 engine for x86 CPUs")
    torch.backends.quantized.engine = engine
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():  # torch.ao's notice that it moves to torchao
        warnings.simplefilter("ignore")
        quantize_dynamic(model, {torch.nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    count = int8_layers(model)
    log.info("%d linear layers in int8 (per output channel, %s)", count, engine)
    return count


def int8_layers(model: Any) -> int:
    """How many of the model's layers hold int8 weights (0: the float model)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return sum(isinstance(module, DynamicLinear) for module in model.modules())


def to_float16(model: Any) -> int:
    """Give each of the model's `nn.Linear` layers a float16 copy of its weight (and
    bias) for products over at most `HALF_ROWS` rows, in place; how many layers."""
    import torch

    count = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:
            module.register_buffer("half_weight", module.weight.detach().half(), persistent=False)
            bias = None if module.bias is None else module.bias.detach().half()
            module.register_buffer("half_bias", bias, persistent=False)
            module.__class__ = _HalfDecodeLinear()
            count += 1
    log.info("%d linear layers with float16 products for up to %d rows", count, HALF_ROWS)
    return count


def float16_layers(model: Any) -> int:
    """How many of the model's layers have float16 products (0: the float model)."""
    return sum(hasattr(module, "half_weight") for module in model.modules())


@functools.cache
def _HalfDecodeLinear() -> type:  # noqa: N802 - a class, made once torch is imported
    """`nn.Linear` whose short products run in float16: the layer keeps its class's
    attributes, parameters and tied weights (the head still shares the embedding's)."""
    import torch

    class HalfDecodeLinear(torch.nn.Linear):
        half_weight: torch.Tensor
        half_bias: torch.Tensor | None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.numel() > HALF_ROWS * x.shape[-1] or x.dtype != torch.float32:
                return super().forward(x)
            out = torch.nn.functional.linear(x.half(), self.half_weight, self.half_bias)
            return out.float()

    return HalfDecodeLinear
