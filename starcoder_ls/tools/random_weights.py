"""StarCoder's real shape with random weights, for `starcoder-ls bench --random-weights`.

Speed and memory depend on the shape, not on the weights' values, so a random model of
StarCoder's configuration measures what `bigcode/starcoder` would on any CUDA machine,
without the 31 GB download or the license step. Its tokenizer is built here in memory:
one token per byte (so any text encodes), StarCoder's special tokens at StarCoder's ids
(so the template and the end ids are StarCoder's), and filler tokens up to StarCoder's
vocabulary size (so every id the random model writes decodes to something).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starcoder_ls.engine import single_query
from starcoder_ls.engine.acceleration import Acceleration
from starcoder_ls.engine.base import EngineInfo
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.models import STARCODER_SPECIAL_TOKENS as SPECIAL_TOKENS
from starcoder_ls.engine.models import choose_template, starcoder_tokenizer
from starcoder_ls.engine.placement import dtype_name, resolve_placement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shape:
    """GPTBigCode dimensions; the defaults are bigcode/starcoder's (15.5B parameters)."""

    layers: int = 40
    hidden: int = 6144
    heads: int = 48
    positions: int = 8192
    vocab: int = 49152

    @classmethod
    def scaled(cls, layers: int | None = None, hidden: int | None = None) -> Shape:
        """StarCoder with fewer layers or a narrower hidden size; heads of 128 (StarCoder's)
        where the width allows, else 4 heads."""
        full = cls()
        width = hidden or full.hidden
        heads = width // 128 if width % 128 == 0 else 4
        if width % heads:
            raise ValueError(f"hidden size {width} is not divisible into {heads} heads")
        return cls(layers=layers or full.layers, hidden=width, heads=heads)

    @property
    def parameters(self) -> int:
        """Weights, roughly: embeddings, attention (multi-query) and the 4x MLP per layer."""
        head = self.hidden // self.heads
        per_layer = self.hidden * (self.hidden + 2 * head) + self.hidden**2 + 8 * self.hidden**2
        return self.layers * per_layer + (self.vocab + self.positions) * self.hidden

    def describe(self) -> str:
        return (
            f"random StarCoder shape ({self.layers} layers, {self.hidden} hidden, "
            f"{self.heads} heads, multi-query, {self.parameters / 1e9:.2f}B parameters)"
        )


def config(shape: Shape) -> Any:
    from transformers import GPTBigCodeConfig

    return GPTBigCodeConfig(
        vocab_size=shape.vocab,
        n_positions=shape.positions,
        n_embd=shape.hidden,
        n_layer=shape.layers,
        n_head=shape.heads,
        n_inner=4 * shape.hidden,
        activation_function="gelu_pytorch_tanh",
        multi_query=True,
        bos_token_id=0,
        eos_token_id=0,
    )


def byte_tokenizer(vocab: int) -> Any:
    """A byte-level tokenizer of exactly `vocab` ids with StarCoder's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    table = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for symbol in alphabet:
        table[symbol] = len(table)
    filler = 0
    while len(table) < vocab:
        table[f"\u0120t{filler}"] = len(table)  # decodes to " t<n>"
        filler += 1
    tokenizer = Tokenizer(models.BPE(vocab=table, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return starcoder_tokenizer(tokenizer)


def random_engine(
    shape: Shape, *, device: str = "auto", dtype: str = "auto", acceleration: Acceleration
) -> LocalEngine:
    """A LocalEngine over randomly initialised weights, built directly on the device."""
    import torch
    from transformers import GPTBigCodeForCausalLM

    placement = resolve_placement(device, dtype)
    target = placement.device if placement.device != "cuda" else "cuda:0"
    wanted = config(shape)
    kwargs = acceleration.load_kwargs()
    torch.manual_seed(0)
    with torch.device(target):
        model = GPTBigCodeForCausalLM._from_config(wanted, dtype=placement.dtype, **kwargs)
    model.eval()
    single_query.adopt(model)  # as a served model is (loading.py)
    tokenizer = byte_tokenizer(shape.vocab)
    name = shape.describe()
    info = EngineInfo(
        model=name,
        template=choose_template(None, tokenizer, "bigcode/starcoder"),
        context_window=shape.positions,
        device=target,
        dtype=dtype_name(placement.dtype),
    )
    ends = [tokenizer.convert_tokens_to_ids(token) for token in info.template.stop_tokens]
    _never_end(model, ends)
    return LocalEngine(
        model=model, tokenizer=tokenizer, info=info, acceleration=acceleration.on(target)
    )


def _never_end(model: Any, ends: list[int]) -> None:
    """Random weights end a completion at any step (often the first); a real completion
    runs to its stop, so the end ids' logits are masked (one small kernel per step)."""

    def hook(module: Any, args: Any, output: Any) -> Any:
        output[..., ends] = float("-inf")
        return output

    model.get_output_embeddings().register_forward_hook(hook)
