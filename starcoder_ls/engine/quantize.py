"""int8 weights for a float32 model on a CPU: the `cpuWeights` setting.

Decoding one token reads every weight; in float32 a 135M model is 540 MB a token, and a
CPU without bfloat16 instructions has nothing smaller it computes in. PyTorch's dynamic
quantisation replaces each `nn.Linear` (the language-model head included; with tied
embeddings the head gets its own int8 copy, the input embedding stays float) by one
holding its weight in int8 with a scale per output channel, and quantises each
activation on the fly (one scale a row of activations) for fbgemm's/oneDNN's int8 GEMM.

Measured on an AVX2 EPYC without bfloat16 (docs/benchmarks.md, "int8 weights on a CPU
without bfloat16"): decoding is faster, but the answers move far from float32's: on 20
HumanEval prefixes the argmax of the next token agreed with float32's at 56% of the
positions (bfloat16: 97.8%; int8 weights alone with float activations, simulated:
97.1%), and the first greedy lines mostly differ. The activations' int8, not the
weights', is what costs: SmolLM2's activations have outlier channels one scale cannot
cover. A weight-only int8 matmul with float activations has no fast CPU kernel in this
PyTorch (`torch._weight_int8pack_mm` and dequantising per matmul: 40 to 60 times slower
than float32 on this CPU).

- "float": the weights as loaded, exactly as before this setting.
- "int8": the dynamic int8 layers, on a CPU in float32 only (elsewhere nothing changes):
  faster, answers not float32's. An opt-in to measure with `eval` and `bench replay`.
- "auto": float, since int8 failed the greedy agreement check. A format that passes it
  (weight-only int8 with a fused kernel) would make "auto" int8 where `dtype` "auto"
  chose float32 on a CPU.

torch is imported inside the functions.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CPU_WEIGHTS = ("auto", "float", "int8")
"""What the `cpuWeights` setting accepts."""

_ENGINES = ("x86", "fbgemm")
"""PyTorch's quantised engines with int8 GEMM kernels for x86 CPUs, preferred in order."""


def wanted(cpu_weights: str, device: str, dtype: Any) -> bool:
    """Whether a model loaded on `device` in `dtype` gets int8 weights."""
    import torch

    if cpu_weights not in CPU_WEIGHTS:
        raise ValueError(f"cpuWeights must be one of {', '.join(CPU_WEIGHTS)}")
    if cpu_weights != "int8" or device != "cpu" or dtype != torch.float32:
        return False
    return _engine() is not None


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
