"""The server's own counters: model calls, tokens, engine time, cache hits.

A current server reports them (`starcoder.stats`); an older one, run as the "before"
column, only logs them, so they are added up from its `--log-file` instead: there, only
calls that ran to completion are visible (a generation cancelled by the client leaves no
line), which the report marks.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Counters:
    requests: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    prefill_calls: int = 0
    """Calls `prefilled_tokens` covers (the log only tells it for completed answers)."""
    generated_tokens: int = 0
    generated_calls: int = 0
    engine_ms: float = 0.0
    cache_hits: int = 0
    typed_ahead_hits: int = 0

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
        prefill_calls=calls,
        generated_tokens=int(stats.get("generatedTokens", 0)),
        generated_calls=calls,
        engine_ms=float(stats.get("engineMs", 0.0)),
        cache_hits=int(stats.get("cacheHits", 0)),
        typed_ahead_hits=int(stats.get("typedAheadHits", 0)),
    )


_REQUEST = re.compile(r"\brequest (\d+)\b")
_GENERATED = re.compile(r"request (\d+): generated ([\d/]*) tokens in ([\d.]+) ms")
_PROMPT = re.compile(r"request (\d+): [\w-]+, (\d+) prompt tokens")
_CANCELLED_CALL = re.compile(r"request (\d+): no completion: superseded or cancelled during gen")
_CACHE_HIT = re.compile(r"request (\d+): cache hit")
_TYPED_AHEAD = re.compile(r"request (\d+):? answered from typed-ahead")


class LogCounter:
    """Adds up a server log as it grows (the formats of commit 9c18e7f's service.py).

    A line is counted once it is complete: the server writes it before it answers, so a
    read right after an answer has arrived includes that answer's lines.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""
        self._requests: set[str] = set()
        self._cache_hit_requests: set[str] = set()
        self._totals: dict[str, float] = dict.fromkeys(
            (f.name for f in dataclasses.fields(Counters)), 0
        )

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line)

    def _add(self, **amounts: float) -> None:
        for name, amount in amounts.items():
            self._totals[name] += amount

    def _line(self, line: str) -> None:
        if (found := _REQUEST.search(line)) is not None:
            self._requests.add(found.group(1))
        if (found := _GENERATED.search(line)) is not None:
            tokens = sum(int(n) for n in found.group(2).split("/") if n)  # "" for no choice
            self._add(model_calls=1, generated_tokens=tokens, generated_calls=1)
            self._add(engine_ms=float(found.group(3)))
        elif (found := _PROMPT.search(line)) is not None:
            # Logged for every answered request, also when the cache answered it.
            if found.group(1) not in self._cache_hit_requests:
                tokens = int(found.group(2))
                self._add(prompt_tokens=tokens, prefilled_tokens=tokens, prefill_calls=1)
        elif _CANCELLED_CALL.search(line) is not None:
            self._add(model_calls=1)
        elif (found := _CACHE_HIT.search(line)) is not None:
            self._cache_hit_requests.add(found.group(1))
            self._add(cache_hits=1)
        elif _TYPED_AHEAD.search(line) is not None:
            self._add(typed_ahead_hits=1)

    def read(self) -> Counters:
        """Everything the log holds now."""
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except OSError:
            data = b""
        self._offset += len(data)
        self.feed(data.decode("utf-8", "replace"))
        totals = {name: value for name, value in self._totals.items()}
        totals["requests"] = len(self._requests)
        return Counters(**{f.name: type(f.default)(totals[f.name]) for f in _FIELDS})


_FIELDS = dataclasses.fields(Counters)


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
    when exactly one model call completed in between and no cache answered: the items
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
        if delta.model_calls == 1 and delta.cache_hits == 0 and delta.typed_ahead_hits == 0:
            samples.append(answer.e2e_ms - delta.engine_ms)
    return samples
