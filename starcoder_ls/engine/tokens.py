"""Conventions read off a loaded tokenizer and model config: the BOS a prompt must open
with, and the ids after which a completion is over.
"""

from __future__ import annotations

from typing import Any


def leading_bos(tokenizer: Any) -> list[int]:
    """`[bos]` for tokenizers that open every text with it (CodeLlama, DeepSeek-Coder, Gemma).

    Those models never saw a document without it. It is added by hand because
    encoding with special tokens would also append EOS where a tokenizer adds one.
    """
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    plain = tokenizer.encode("a", add_special_tokens=False)
    wrapped = tokenizer.encode("a", add_special_tokens=True)
    return [bos] if wrapped[:1] == [bos] and plain[:1] != [bos] else []


def eos_ids(model: Any, tokenizer: Any, vocab: dict[str, int], template: Any) -> tuple[int, ...]:
    """Every id after which the completion is over: the tokenizer's and config's EOS,
    plus the template's end tokens the vocabulary has (e.g. `<file_sep>`)."""
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    candidates = [tokenizer.eos_token_id]
    candidates += configured if isinstance(configured, list) else [configured]
    for token in template.stop_tokens:
        candidates += [vocab.get(token), vocab.get("\u2581" + token)]
    for candidate in candidates:
        if isinstance(candidate, int) and candidate not in ids:
            ids.append(candidate)
    return tuple(ids)
