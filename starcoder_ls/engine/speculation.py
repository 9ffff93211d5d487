"""Speculative greedy decoding: guess several tokens cheaply, check them in one forward pass.

A decode step of a large model costs about as much for a handful of tokens as for one
(it is bound by reading the weights), so guessed tokens are fed after the last real one
and every guess the model agrees with saves a step. Two guessers:

- prompt lookup: code repeats its own identifiers and lines, so the tokens that followed
  the latest earlier occurrence of the last few tokens are proposed (no model runs);
- a draft model sharing the tokenizer (`bigcode/tiny_starcoder` for StarCoder) proposes
  its own greedy continuation (a small model's forward passes).

Greedy only: a guess is kept when it is the token the model picks itself, so the answer
is the plain greedy answer (up to float rounding in a forward pass of another shape, the
same caveat as KV reuse's shorter prefills).

Why not transformers' assisted generation (`prompt_lookup_num_tokens=`,
`assistant_model=`)? In 5.x it (1) feeds the whole prompt again on its first pass when
handed a cache that already holds part of it (a 300-token cache became 883 tokens for a
564-token prompt), so it cannot start from a kept KV cache (kv_reuse.py); (2) runs the
logits processors on guesses not yet confirmed, and token healing's processor remembers
which rows are healed, so a rejected guess could end healing early; (3) restarts the
draft from an empty cache at every call, prefilling the whole prompt again; (4) shows the
stop criteria several tokens at once, so a stop string or a cancel is seen late. This
loop feeds only the tokens the cache lacks, runs processors and criteria on confirmed
tokens only, one token at a time as plain decoding does, and keeps the draft's cache.
torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starcoder_ls.engine import kv_reuse

NGRAMS = (3, 2, 1)
"""Lengths of the prompt's tail looked up, longest first: a longer match guesses better."""
DRAFT_START = 4
"""Tokens the draft proposes at first; more after a fully accepted guess, fewer after a miss."""
DRAFT_MAX = 16


class Guesser(Protocol):
    def propose(self, tokens: Sequence[int], limit: int) -> list[int]:
        """Up to `limit` tokens likely to follow `tokens` (confirmed tokens only)."""
        ...

    def accepted(self, guessed: int, kept: int) -> None:
        """`kept` of the `guessed` tokens of the last proposal were the model's own."""
        ...

    def close(self) -> None:
        """The generation is over."""
        ...


class PromptLookup:
    """Guesses from the text itself: what followed the latest earlier occurrence of the tail.

    Code repeats itself nearer rather than farther (the line above, the function being
    written), so the latest match wins. The search is a vectorised scan of the ids, a few
    microseconds a step even at 8k tokens, with no index to build per request.

    A guess is either a copied run (all kept) or wrong from its first tokens, and every
    rejected token was computed for nothing (on a CPU, a pass over ten tokens costs more
    than one over one), so the length adapts: doubled after a guess kept whole, one more
    than what was kept after a miss, never over `tokens`.
    """

    def __init__(self, tokens: int, ngrams: Sequence[int] = NGRAMS) -> None:
        self.tokens = tokens
        self.ngrams = tuple(ngrams)
        self.length = tokens
        self._ids: Any = None
        self._filled = 0

    def propose(self, tokens: Sequence[int], limit: int) -> list[int]:
        limit = min(limit, self.length)
        if limit <= 0:
            return []
        ids = self._sync(tokens)
        total = len(tokens)
        for n in self.ngrams:
            if total <= n:
                continue
            # Starts i < total - n where ids[i : i + n] equals the last n ids.
            hits = ids[: total - n] == ids[total - n]
            for j in range(1, n):
                hits &= ids[j : total - n + j] == ids[total - n + j]
            found = hits.nonzero()
            if len(found):
                start = int(found[-1]) + n
                return list(tokens[start : start + limit])
        return []

    def accepted(self, guessed: int, kept: int) -> None:
        if guessed:
            self.length = min(self.tokens, 2 * self.length if kept == guessed else kept + 1)

    def close(self) -> None:
        pass

    def _sync(self, tokens: Sequence[int]) -> Any:
        """The ids as a tensor, grown in place by the tokens confirmed since the last call."""
        import torch

        if self._ids is None or len(tokens) > self._ids.shape[0]:
            grown = torch.empty(max(2 * len(tokens), 64), dtype=torch.long)
            if self._ids is not None:
                grown[: self._filled] = self._ids[: self._filled]
            self._ids = grown
        if len(tokens) > self._filled:
            self._ids[self._filled : len(tokens)] = torch.tensor(
                list(tokens[self._filled :]), dtype=torch.long
            )
            self._filled = len(tokens)
        return self._ids[: len(tokens)]


@dataclass
class Draft:
    """A small model sharing the main model's tokenizer, with its own recent caches."""

    model: Any
    vocab: int
    """Ids the main model knows: a draft's padded embedding may have more rows."""
    pool: kv_reuse.PrefixCache = field(
        default_factory=lambda: kv_reuse.PrefixCache(max_tokens=16_384)
    )


class DraftGuesser:
    """The draft's greedy continuation, its cache kept in step with the confirmed tokens."""

    def __init__(self, draft: Draft, device: Any, *, reuse: bool = True) -> None:
        self.draft = draft
        self.device = device
        self.reuse = reuse
        self.cache: Any = None
        self.cached: list[int] = []
        """The ids whose keys and values `cache` holds."""
        self.length = DRAFT_START

    def propose(self, tokens: Sequence[int], limit: int) -> list[int]:
        import torch

        limit = min(limit, self.length)
        if limit <= 0:
            return []
        if self.cache is None:
            self.cache, reused = self.draft.pool.take(tokens) if self.reuse else (None, 0)
            self.cached = list(tokens[:reused])
            if self.cache is None:
                self.cache, self.cached = kv_reuse.new_cache(self.draft.model), []
        keep = min(kv_reuse.common_prefix(self.cached, tokens), len(tokens) - 1)
        if int(self.cache.get_seq_length()) > keep:
            self.cache.crop(-(int(self.cache.get_seq_length()) - keep))
        self.cached = list(tokens[:keep])
        feed = list(tokens[keep:])
        guesses: list[int] = []
        while len(guesses) < limit:
            logits = _forward(self.draft.model, self.cache, feed, 1, self.device)
            choice = int(torch.argmax(logits[-1, : self.draft.vocab]))
            self.cached += feed
            guesses.append(choice)
            feed = [choice]
        return guesses

    def accepted(self, guessed: int, kept: int) -> None:
        if guessed:
            self.length = min(DRAFT_MAX, self.length + 2) if kept == guessed else max(1, kept)

    def close(self) -> None:
        """Keep the draft's cache for the next call (beside the main model's, it is small)."""
        if self.reuse and self.cache is not None and self.cached:
            self.draft.pool.put(self.cached, self.cache)
        self.cache = None


class FirstOf:
    """The first guesser with something to propose: free prompt lookup before the draft."""

    def __init__(self, guessers: Sequence[Guesser]) -> None:
        self.guessers = tuple(guessers)
        self._last: Guesser | None = None

    def propose(self, tokens: Sequence[int], limit: int) -> list[int]:
        for guesser in self.guessers:
            guess = guesser.propose(tokens, limit)
            if guess:
                self._last = guesser
                return guess
        self._last = None
        return []

    def accepted(self, guessed: int, kept: int) -> None:
        if self._last is not None:
            self._last.accepted(guessed, kept)

    def close(self) -> None:
        for guesser in self.guessers:
            guesser.close()


Processor = Callable[[Any, Any], Any]
Criterion = Callable[..., Any]


@dataclass
class Outcome:
    tokens: list[int]
    """The prompt followed by the generated tokens."""
    forward_passes: int
    guessed: int
    """Guessed tokens fed to the model, and how many of them it kept."""
    kept: int


@dataclass(frozen=True)
class Decoding:
    """What a greedy call decodes with: the model on its device, and its rules."""

    model: Any
    device: Any
    processors: Sequence[Processor] = ()
    """transformers' `LogitsProcessor` protocol, applied in order to each row's scores."""
    criteria: Sequence[Criterion] = ()
    """transformers' `StoppingCriteria` protocol."""
    eos: Sequence[int] = ()


def greedy(
    decoding: Decoding, cache: Any, prompt: Sequence[int], *, max_new: int, guesser: Guesser
) -> Outcome:
    """Greedy decoding of up to `max_new` tokens after `prompt`, from `cache`.

    `cache` holds the keys and values of a prefix of `prompt` (at most all but its last
    token); on return it holds every token but the last, as after `model.generate`.
    After each token, the criteria see the ids so far and the loop ends when one of them
    says stop or an `eos` id is chosen.
    """
    import torch

    model, device = decoding.model, decoding.device
    processors, criteria = decoding.processors, decoding.criteria
    ids = torch.tensor([list(prompt)], dtype=torch.long)
    tokens = list(prompt)
    ends = set(decoding.eos)
    fed = int(cache.get_seq_length())
    passes = guessed_total = kept_total = 0
    done = False
    while not done and len(tokens) - len(prompt) < max_new:
        room = max_new - (len(tokens) - len(prompt))
        guess = guesser.propose(tokens, room - 1) if room > 1 else []
        logits = _forward(model, cache, tokens[fed:] + guess, len(guess) + 1, device)
        passes += 1
        choices = None if processors else logits.argmax(dim=-1).tolist()
        kept = 0
        for row in range(len(guess) + 1):
            if choices is None:
                scores = logits[row : row + 1].float()
                for process in processors:
                    scores = process(ids, scores)
                choice = int(scores.argmax(dim=-1))
            else:
                choice = choices[row]
            tokens.append(choice)
            ids = torch.cat([ids, torch.tensor([[choice]], dtype=torch.long)], dim=1)
            stop = [bool(check(ids, None).any()) for check in criteria]
            done = any(stop) or choice in ends
            if done or row == len(guess) or choice != guess[row]:
                break
            kept += 1
        guesser.accepted(len(guess), kept)
        guessed_total += len(guess)
        kept_total += kept
        fed = len(tokens) - 1
        extra = int(cache.get_seq_length()) - fed
        if extra > 0:
            cache.crop(-extra)
    return Outcome(tokens, passes, guessed_total, kept_total)


def _forward(model: Any, cache: Any, feed: list[int], keep: int, device: Any) -> Any:
    """The last `keep` positions' logits, shape (keep, vocab), after feeding `feed`."""
    import torch

    chunk = torch.tensor([feed], dtype=torch.long, device=device)
    with torch.inference_mode():
        out = model(input_ids=chunk, cache=cache, use_cache=True, logits_to_keep=keep)
    return out.logits[0, -keep:]


def same_vocabulary(main: Any, draft: Any) -> str | None:
    """Why `draft`'s tokenizer cannot propose ids for `main`'s, or None when they agree."""
    ours, theirs = main.get_vocab(), draft.get_vocab()
    if ours == theirs:
        return None
    differing = sorted(set(ours.items()) ^ set(theirs.items()))
    sample = ", ".join(repr(token) for token, _ in differing[:3])
    return (
        f"the draft model's vocabulary differs from the model's ({len(theirs)} vs "
        f"{len(ours)} tokens; {len(differing)} entries differ, e.g. {sample}); a draft must "
        "share the tokenizer (bigcode/tiny_starcoder for StarCoder)"
    )
