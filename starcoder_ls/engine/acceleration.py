"""The GPU path's switches: attention kernel, static KV cache, compiled decode step.

- `attention`: "sdpa" (PyTorch's fused scaled-dot-product attention) or "eager" (the
  model's own matmuls); "auto" lets transformers choose, which is SDPA wherever the
  model's code supports it. Applies on every device.
- `static_cache`: KV caches preallocated to the context window instead of grown token by
  token; the shapes stop changing, which is what a compiled or CUDA-graphed step needs.
  The engine builds the `StaticCache` itself rather than asking `generate` for
  `cache_implementation="static"`: transformers refuses both a cache object and a cache
  implementation, and KV reuse hands `generate` a kept cache. Static caches crop to a
  prefix like dynamic ones, so reuse keeps working.
- `compile`: `torch.compile` of the decode step, which transformers applies to a
  compilable (static) cache on CUDA; so it turns the static cache on as well. Greedy
  calls that guess tokens (speculation.py) feed a varying number of tokens a pass and
  run the model's plain forward.

Static cache and compile are for CUDA: on other devices they are validated, logged once
as ignored, and have no effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger(__name__)

ATTENTION = ("auto", "sdpa", "eager")


@dataclass(frozen=True, kw_only=True)
class Acceleration:
    attention: str = "auto"
    static_cache: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION)}")

    def load_kwargs(self) -> dict[str, Any]:
        """`from_pretrained` arguments: none for "auto", so transformers' own choice stands."""
        if self.attention == "auto":
            return {}
        return {"attn_implementation": self.attention}

    def on(self, device: str) -> Acceleration:
        """The switches that apply on `device` ("cuda:1", "cpu"...), saying once what is not."""
        if device.startswith("cuda"):
            return replace(self, static_cache=self.static_cache or self.compile)
        ignored = [name for name in ("static_cache", "compile") if getattr(self, name)]
        if ignored:
            names = " and ".join(_WIRE_NAMES[name] for name in ignored)
            verb = "need" if len(ignored) > 1 else "needs"
            log.info("%s %s CUDA; ignored on %s", names, verb, device)
        return replace(self, static_cache=False, compile=False)

    def generation_kwargs(self) -> dict[str, Any]:
        """`GenerationConfig` fields: transformers compiles the decode step by itself on CUDA
        whenever the cache is static, so without `compile` that must be switched off."""
        return {"disable_compile": not self.compile}


_WIRE_NAMES = {"static_cache": "staticCache", "compile": "compile"}
