"""KV reuse: keep the attention keys/values of recent prompts for the next request.

Consecutive completion prompts are nearly the same text: one typed character changes
the last token or two, and an invoked request's sampled alternatives repeat the
greedy call's prompt. Prefilling is the expensive part of a short completion (a
2,000-token prompt is most of a request's time on a CPU), so the worker keeps the
caches of its last few prompts, and a new prompt resumes from the one with the
longest common token prefix: it is cropped to that prefix and only the tokens after
it run through the model.

Memory: a cache holds `2 x layers x kv_heads x head_dim` numbers per token (about
46 KB a token for SmolLM2-135M in float32, 20 KB for StarCoder-15B in bfloat16), so
the pool is bounded by entries and by tokens. The newest entry is always kept: its
memory was needed for the last generation and will be for the next one.

Only plain full-attention caches (`DynamicLayer` in every layer) are reused: a
sliding-window or linear-attention layer cannot be cropped back to any prefix.
torch and transformers are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 4
"""Prompts whose caches are kept: one per document being edited, roughly."""
MIN_SHARED = 16
"""An entry sharing fewer tokens than this with a new prompt (only the template's
first tokens, say) is left for its own document rather than cropped to nothing."""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix; slice comparisons keep the loop in C."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass
class _Entry:
    tokens: list[int]
    """The ids whose keys and values `cache` holds, in order."""
    cache: Any


class PrefixCache:
    """The worker's recent caches, least recently used first. Call from the worker only."""

    def __init__(self, *, max_tokens: int, max_entries: int = MAX_ENTRIES) -> None:
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self._entries: list[_Entry] = []

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def tokens(self) -> int:
        """Tokens held over all entries."""
        return sum(len(entry.tokens) for entry in self._entries)

    def take(self, ids: Sequence[int]) -> tuple[Any | None, int]:
        """The cache sharing the longest prefix with `ids`, cropped to it, and its length.

        The entry leaves the pool (the caller extends the cache in place and puts it
        back). At most `len(ids) - 1` tokens are kept, so that the model always runs
        at least the last token and produces the logits of the next. (None, 0) when
        no entry shares enough.
        """
        best, shared = None, 0
        for entry in self._entries:
            common = common_prefix(entry.tokens, ids)
            if common > shared:
                best, shared = entry, common
        keep = min(shared, len(ids) - 1)
        if best is None or keep <= 0 or (shared < MIN_SHARED and shared < len(best.tokens)):
            return None, 0
        self._entries.remove(best)
        extra = int(best.cache.get_seq_length()) - keep
        if extra > 0:
            best.cache.crop(-extra)
        return best.cache, keep

    def put(self, tokens: Sequence[int], cache: Any) -> None:
        """Keep `cache`, which holds `tokens`, as the newest entry; evict the oldest
        beyond the limits (never the newest)."""
        if not tokens:
            return
        self._entries.append(_Entry(list(tokens), cache))
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_entries or self.tokens > self.max_tokens
        ):
            del self._entries[0]

    def clear(self) -> None:
        self._entries.clear()


def supports_reuse(model: Any) -> bool:
    """Whether `model`'s cache is plain full attention, which can be cropped to any prefix."""
    try:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        layers = DynamicCache(config=model.config).layers
    except Exception:
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def new_cache(model: Any, *, static_length: int | None = None) -> Any:
    """An empty cache: grown token by token, or preallocated for `static_length` tokens
    (one row; see acceleration.py for why the engine builds static caches itself)."""
    if static_length is not None:
        from transformers import StaticCache

        return StaticCache(config=model.config, max_cache_len=static_length)
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def prefill(model: Any, cache: Any, ids: Sequence[int], device: Any) -> None:
    """Run `ids` through the model's body into `cache`, after what it holds.

    The body only: the LM head's logits are not needed for tokens whose successor is
    already known, and skipping it also keeps logit hooks (tests steer with them)
    seeing exactly the forward passes of `generate`.
    """
    import torch

    if not ids:
        return
    body = model.base_model
    chunk = torch.tensor([list(ids)], dtype=torch.long, device=device)
    with torch.inference_mode():
        if body is model:
            model(input_ids=chunk, cache=cache, use_cache=True, logits_to_keep=1)
        else:
            body(input_ids=chunk, cache=cache, use_cache=True)


def expand(cache: Any, rows: int) -> Any:
    """A copy of a one-row cache with `rows` identical rows, for sampled choices.

    Always a dynamic cache: a static one's tensors are sized for one row, and only the
    filled part of them (the first `get_seq_length()` positions) is copied."""
    from transformers import DynamicCache

    length = int(cache.get_seq_length())
    return DynamicCache(
        ddp_cache_data=[
            (
                layer.keys[:, :, :length].repeat_interleave(rows, dim=0),
                layer.values[:, :, :length].repeat_interleave(rows, dim=0),
            )
            for layer in cache.layers
        ]
    )
