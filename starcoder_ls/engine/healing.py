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

INDENTATION = ("free", "keep", "skip")
"""How healing treats a last token of blanks (the `healIndentation` setting):

- "free": like any token; the re-spelled text may be other blanks (`\n        ` for
  `\n    `, a line break after `return `), which changes the indentation of the answer;
- "keep": healed, but the blanks keep their width: the model re-spells them exactly and
  writes code right after them (`   ` + ` return` for `    `);
- "skip": a last token of indentation (blanks at the start of a line) is not healed.
"""


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

    @lru_cache(maxsize=64)  # noqa: B019 - as above
    def allowed_keeping_width(self, remaining: str) -> tuple[int, ...]:
        """Tokens that re-spell the blanks `remaining` without adding any: a shorter run of
        them (the rest comes next), or all of them followed by code (`   ` then ` return`).
        The blanks themselves only where neither exists (a lone tab, in some vocabularies),
        after which the model chooses freely; `allowed` where not even they are a token."""
        texts = self.texts
        ids = self.allowed(remaining)
        strict = tuple(
            i
            for i in ids
            if len(texts[i]) < len(remaining)
            or (len(texts[i]) > len(remaining) and not texts[i][len(remaining)].isspace())
        )
        return strict or tuple(i for i in ids if texts[i] == remaining) or ids

    @lru_cache(maxsize=64)  # noqa: B019 - as above
    def line_breaks_after(self, remaining: str) -> tuple[int, ...]:
        """Tokens that spell `remaining` and then, after blanks at most, break the line."""
        return tuple(
            i
            for i, text in enumerate(self.texts)
            if text.startswith(remaining) and _breaks_line(text[len(remaining) :])
        )


def _breaks_line(text: str) -> bool:
    return text.lstrip(" \t").startswith(("\n", "\r"))


def split_last_token(
    tokenizer: Any, vocab: Vocabulary, ids: Sequence[int], *, indentation: str = "free"
) -> tuple[list[int], str]:
    """(ids without the last token, that token's text), or (ids, "") when not worth healing.

    With `indentation` "skip", a last token of indentation is not worth it either: blanks
    that start a line, or a line break and the blanks after it."""
    if len(ids) < 2 or vocab.is_special(ids[-1]):
        return list(ids), ""
    full = decode_tokens(tokenizer, ids[-8:])
    head = decode_tokens(tokenizer, ids[-8:-1])
    if not full.startswith(head):
        return list(ids), ""
    removed = full[len(head) :]
    if not removed or len(removed) > MAX_HEALED_CHARS or "\ufffd" in removed:
        return list(ids), ""
    if indentation == "skip" and is_indentation(head, removed):
        return list(ids), ""
    return list(ids[:-1]), removed


def is_blank(text: str) -> bool:
    return bool(text) and not text.strip()


def is_indentation(head: str, removed: str) -> bool:
    """Whether `removed`, after `head`, is pure indentation (it may hold the line break)."""
    if not is_blank(removed):
        return False
    return "\n" in removed or "\r" in removed or head.endswith(("\n", "\r")) or not head


class HealingProcessor:
    """A transformers logits processor: until a row has spelled out `removed`, only
    tokens that continue it may be chosen. Rows are independent (sampled choices).

    Healing is over within a few tokens, and a healed row stays healed, so once every
    row is done a step costs nothing: no copy of the ids, no decoding.
    """

    def __init__(
        self,
        tokenizer: Any,
        vocab: Vocabulary,
        removed: str,
        prompt_length: int,
        *,
        keep_width: bool = False,
    ):
        """`keep_width`: blanks taken back are re-spelled as they were (`INDENTATION`'s
        "keep"); it only matters when `removed` is blank."""
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.removed = removed
        self.prompt_length = prompt_length
        self._choose = (
            vocab.allowed_keeping_width if keep_width and is_blank(removed) else vocab.allowed
        )
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
            allowed = self._choose(self.removed[len(done) :])
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


class NoLeadingLineBreak:
    """A transformers logits processor for one-line completions where the rest of the line
    is empty: until a row has written something other than blanks, a token that breaks the
    line may not be chosen. The model would rather start a new line than write this one
    (an empty answer, in one-line mode); its best guess on this line comes next.

    `removed` is the text token healing took back, which the first tokens re-spell: a
    line break inside it is the prompt's own, only one after it is forbidden.
    """

    def __init__(self, tokenizer: Any, vocab: Vocabulary, removed: str, prompt_length: int):
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.removed = removed
        self.prompt_length = prompt_length
        self._done: set[int] = set()
        self._all_done = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._all_done:
            return scores
        rows = input_ids.shape[0]
        pending = [row for row in range(rows) if row not in self._done]
        generated = input_ids[pending, self.prompt_length :].tolist()
        for row, tokens in zip(pending, generated, strict=True):
            done = decode_tokens(self.tokenizer, tokens) if tokens else ""
            if len(done) < len(self.removed):
                banned = self.vocab.line_breaks_after(self.removed[len(done) :])
            elif is_blank(done[len(self.removed) :]) or len(done) == len(self.removed):
                if "\n" in done[len(self.removed) :] or "\r" in done[len(self.removed) :]:
                    self._done.add(row)  # written by a path that skipped this processor
                    continue
                banned = self.vocab.line_breaks_after("")
            else:
                self._done.add(row)
                continue
            if banned:
                scores[row, list(banned)] = float("-inf")
        self._all_done = len(self._done) == rows
        return scores
