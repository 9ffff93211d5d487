"""Where the weights go and in which dtype, and what to say when they do not fit.

Separate from the engine so the decisions can be tested with CUDA's answers faked
(tests/engine/test_placement.py). torch is imported inside the functions: importing
this module (e.g. from `config.py` for `DTYPES`) stays cheap.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine import models
from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.weights import ModelSource, explain_load_failure

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")
"""What `--dtype` and the `dtype` setting accept (aliases such as "bf16" are read too)."""
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
_HEADROOM = 1.2
"""Weights take this much more once loaded: activations, KV cache, CUDA context."""
GB = 1e9


@dataclass(frozen=True)
class Placement:
    device: str
    """"cpu", "mps", "cuda:N" or "cuda" (accelerate may shard over GPUs and CPU)."""
    dtype: torch.dtype


def resolve_placement(device: str, dtype: str) -> Placement:
    import torch

    wanted = _DTYPE_ALIASES.get(dtype.strip().lower(), dtype.strip().lower())
    if wanted not in DTYPES:
        raise EngineError(f"unknown dtype {dtype!r}; use one of: {', '.join(DTYPES)}", retry=False)
    name = {"auto": "cuda" if torch.cuda.is_available() else "cpu", "gpu": "cuda"}.get(
        device.strip().lower(), device.strip().lower()
    )
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineError(
                f"device {device!r}: CUDA is not available (no NVIDIA GPU or driver)", retry=False
            )
        index, count = name.removeprefix("cuda:"), torch.cuda.device_count()
        if name != "cuda" and not (index.isdigit() and int(index) < count):
            raise EngineError(
                f"unknown device {device!r}; this machine has cuda:0..{count - 1}", retry=False
            )
        fallback = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    elif name == "mps":
        if not torch.backends.mps.is_available():
            raise EngineError(
                f"device {device!r}: Apple MPS is not available on this machine", retry=False
            )
        fallback = torch.float16
    elif name == "cpu":
        fallback = torch.bfloat16 if cpu_computes_bf16() else torch.float32
    else:
        raise EngineError(
            f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps", retry=False
        )
    return Placement(name, fallback if wanted == "auto" else getattr(torch, wanted))


CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
"""/proc/cpuinfo flags of CPUs that compute in bfloat16 themselves: x86's AVX512-BF16 and
AMX, Arm's BF16 extension (its "Features" line)."""


@cache
def cpu_computes_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether "auto" means bfloat16 on this CPU rather than float32.

    On a CPU with bfloat16 instructions, a small model runs about twice as fast in it
    (half the bytes of weights to read per token, and oneDNN's bfloat16 kernels take
    several tokens a pass for the price of one, which prompt lookup needs); without
    them bfloat16 is emulated and slower. Answers are not bit-identical to float32's
    (docs/benchmarks.md has the quality harness on both); `dtype` float32 keeps them.
    """
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name.strip() in ("flags", "Features"):
                    return not CPU_BF16_FLAGS.isdisjoint(value.split())
    except OSError:
        pass
    return False


def weights_bytes(source: ModelSource, dtype: torch.dtype) -> int:
    """Size of the weights in `dtype`, counted on the meta device (nothing allocated)."""
    import torch

    try:
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(source.location, **source.kwargs)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
        return sum(p.numel() for p in skeleton.parameters()) * dtype.itemsize
    except Exception:
        known = models.approx_bf16_gb(source.name)
        return int(known * GB * dtype.itemsize / 2) if known else 0


def cuda_device_map(device: str, needed: int) -> Any:
    """One GPU when the model fits it; otherwise let accelerate spread it out.

    `device_map="auto"` fills the GPUs in order, then CPU memory; it is slower than
    one GPU but beats refusing to load a model that does not fit.
    """
    import torch

    if device != "cuda":
        return {"": int(device.removeprefix("cuda:"))}
    free, _ = torch.cuda.mem_get_info(0)
    if needed * _HEADROOM <= free:
        return {"": 0}
    log.info(
        "%.1f GB of weights do not fit the %.1f GB free on cuda:0; sharding with accelerate",
        needed / GB,
        free / GB,
    )
    return "auto"


@contextmanager
def load_errors(
    source: ModelSource, placement: Placement | None = None, needed: int | None = None
) -> Iterator[None]:
    """Turn loader exceptions into EngineErrors a user can act on."""
    try:
        yield
        return
    except EngineError:
        raise
    except Exception as exc:
        if not is_oom(exc):
            raise EngineError(explain_load_failure(exc, source.name), retry=False) from exc
    # Out of memory: only now, with the traceback released, can the half-loaded weights go.
    free_memory()
    raise EngineError(oom_message(source.name, placement, needed), retry=True)


def oom_message(name: str, placement: Placement | None, needed: int | None) -> str:
    import torch

    dtype = dtype_name(placement.dtype) if placement else "this dtype"
    device = placement.device if placement else "the device"
    known = models.approx_bf16_gb(name)
    if not needed and known and placement:
        needed = int(known * GB * placement.dtype.itemsize / 2)
    need = f"needs ~{_gb(needed)} GB" if needed else "does not fit"
    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.partition(":")[2] or 0)
        total = torch.cuda.get_device_properties(index).total_memory
        return (
            f"CUDA out of memory loading {name} in {dtype}: {need}, the GPU has "
            f"{_gb(total)} GB. Free the GPU, pick a smaller model or use --device cpu"
        )
    return f"out of memory loading {name} in {dtype} on {device}: {need}"


def is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def describe_device(model: Any) -> str:
    placement = getattr(model, "hf_device_map", None)
    if placement and len(set(placement.values())) > 1:
        names = {f"cuda:{d}" if isinstance(d, int) else str(d) for d in placement.values()}
        return "+".join(sorted(names))
    return str(model.device)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _gb(size: int | None) -> str:
    value = (size or 0) / GB
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
