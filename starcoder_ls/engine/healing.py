"""Token healing: complete from a clean token boundary when the cursor sits mid-token.

A prompt that ends mid-token (`return ` with its trailing space, `self.ite`, an indented
blank line) ends in a token the model rarely saw in that place during training: after
`return ` + space-token it writes `0.5 + a + b`, after `return` it writes ` a + b`. So the
last prompt token is taken back and the first generated token(s) are constrained to spell
it out again: the model picks the best token that starts with the removed text (or is a
prefix of it), and the removed text is cut off the completion afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.stopping import decode_tokens

if TYPE_CHECKING:
    import torch

MAX_HEALED_CHARS = 16
"""Longer last tokens are whole words or runs of indentation the model handles fine."""


class Vocabulary:
    """Each token's text as it reads after another token, computed once per tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._texts: list[str] | None = None
        self._special = set(getattr(tokenizer, "all_special_ids", ()))
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._special |= {i for i, token in added.items() if getattr(token, "special", False)}

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special

    @property
    def texts(self) -> list[str]:
        """Decoded after an anchor token so that a leading space survives (SentencePiece)."""
        if self._texts is None:
            anchor = self._tokenizer.encode("a", add_special_tokens=False)[-1:]
            head = len(decode_tokens(self._tokenizer, anchor))
            size = len(self._tokenizer)
            pairs = [anchor + [i] for i in range(size)]
            decoded = self._tokenizer.batch_decode(
                pairs, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            self._texts = [
                "" if i in self._special else text[head:] for i, text in enumerate(decoded)
            ]
            self.allowed.cache_clear()
        return self._texts

    @lru_cache(maxsize=256)  # noqa: B019 - one Vocabulary per loaded model, kept for its life
    def allowed(self, remaining: str) -> tuple[int, ...]:
        """Tokens that continue `remaining` exactly: start with it, or are a prefix of it."""
        return tuple(
            i
            for i, text in enumerate(self.texts)
            if text and (text.startswith(remaining) or remaining.startswith(text))
        )


def split_last_token(
    tokenizer: Any, vocab: Vocabulary, ids: Sequence[int]
) -> tuple[list[int], str]:
    """(ids without the last token, that token's text), or (ids, "") when not worth healing."""
    if len(ids) < 2 or vocab.is_special(ids[-1]):
        return list(ids), ""
    full = decode_tokens(tokenizer, ids[-8:])
    head = decode_tokens(tokenizer, ids[-8:-1])
    if not full.startswith(head):
        return list(ids), ""
    removed = full[len(head) :]
    if not removed or len(removed) > MAX_HEALED_CHARS or "\ufffd" in removed:
        return list(ids), ""
    return list(ids[:-1]), removed


class HealingProcessor:
    """A transformers logits processor: until a row has spelled out `removed`, only
    tokens that continue it may be chosen. Rows are independent (sampled choices).

    Healing is over within a few tokens, and a healed row stays healed, so once every
    row is done a step costs nothing: no copy of the ids, no decoding.
    """

    def __init__(self, tokenizer: Any, vocab: Vocabulary, removed: str, prompt_length: int):
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.removed = removed
        self.prompt_length = prompt_length
        self._healed: set[int] = set()
        self._all_healed = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        if self._all_healed:
            return scores
        rows = input_ids.shape[0]
        pending = [row for row in range(rows) if row not in self._healed]
        generated = input_ids[pending, self.prompt_length :].tolist()
        for row, tokens in zip(pending, generated, strict=True):
            done = decode_tokens(self.tokenizer, tokens) if tokens else ""
            if len(done) >= len(self.removed):
                self._healed.add(row)
                continue
            allowed = self.vocab.allowed(self.removed[len(done) :])
            if not allowed:
                continue
            mask = torch.full_like(scores[row], float("-inf"))
            mask[list(allowed)] = 0
            scores[row] = scores[row] + mask
        self._all_healed = len(self._healed) == rows
        return scores


def strip_healed(text: str, removed: str) -> str:
    """The completion proper: the generated text after the re-spelled token."""
    if not removed:
        return text
    if text.startswith(removed):
        return text[len(removed) :]
    stripped = removed.lstrip(" ")
    if stripped != removed and text.startswith(stripped):
        return text[len(stripped) :]  # a tokenizer that drops a leading space when decoding
    return ""
