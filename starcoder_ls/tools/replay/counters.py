"""The server's own counters: model calls, tokens, engine time, cache hits, as
`starcoder.stats` reports them (the server's log is not read: its wording is for people).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Counters:
    requests: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    generated_tokens: int = 0
    engine_ms: float = 0.0
    cache_hits: int = 0
    typed_ahead_hits: int = 0
    adopted: int = 0
    """Requests answered by a generation an earlier keystroke started (keepTypedGeneration)."""
    abandoned: int = 0
    """Generations kept past their request, then cancelled when the typing diverged."""
    warmups: int = 0
    warmups_completed: int = 0

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            **{
                f.name: getattr(self, f.name) - getattr(other, f.name)
                for f in dataclasses.fields(self)
            }
        )


def from_stats(stats: Mapping[str, Any]) -> Counters:
    """`starcoder.stats` (camelCase, cumulative since the server started)."""
    calls = int(stats.get("modelCalls", 0))
    return Counters(
        requests=int(stats.get("requests", 0)),
        model_calls=calls,
        prompt_tokens=int(stats.get("promptTokens", 0)),
        prefilled_tokens=int(stats.get("prefilledTokens", stats.get("promptTokens", 0))),
        generated_tokens=int(stats.get("generatedTokens", 0)),
        engine_ms=float(stats.get("engineMs", 0.0)),
        cache_hits=int(stats.get("cacheHits", 0)),
        typed_ahead_hits=int(stats.get("typedAheadHits", 0)),
        adopted=int(stats.get("adoptedGenerations", 0)),
        abandoned=int(stats.get("abandonedGenerations", 0)),
        warmups=int(stats.get("warmups", 0)),
        warmups_completed=int(stats.get("warmupsCompleted", 0)),
    )


@dataclass(frozen=True, kw_only=True)
class Answered:
    """An inline answer with items, in the order answers and counter reads arrived."""

    seq: int
    e2e_ms: float


@dataclass(frozen=True, kw_only=True)
class Read:
    sent_seq: int
    """Arrivals counted when the read was asked for."""
    seq: int
    counters: Counters


def overhead_samples(answers: Sequence[Answered], reads: Sequence[Read]) -> list[float]:
    """End-to-end minus engine time, for each answer whose engine time is known.

    The counters are read after every answer; an answer's engine time is the change
    between the last read that arrived before it and the first one asked for after it,
    when exactly one model call completed in between, no cache answered, no kept generation
    was adopted and no warm-up ran: the items
    needed a model call, and that one was the only one. Other answers (a cancelled
    generation finishing meanwhile, a cache hit) are left out rather than guessed.
    """
    ordered = sorted(reads, key=lambda r: r.seq)
    arrivals = [r.seq for r in ordered]
    samples: list[float] = []
    for answer in answers:
        before_at = bisect.bisect_left(arrivals, answer.seq) - 1
        after = next((r for r in ordered if r.sent_seq >= answer.seq), None)
        if before_at < 0 or after is None:
            continue
        delta = after.counters - ordered[before_at].counters
        reused = delta.cache_hits or delta.typed_ahead_hits or delta.adopted or delta.warmups
        if delta.model_calls == 1 and not reused:
            samples.append(answer.e2e_ms - delta.engine_ms)
    return samples
