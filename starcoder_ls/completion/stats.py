"""Counters of the completion service since it started (`starcoder.stats`).

A benchmark reads them over LSP to tell where time and tokens went (model calls,
prefill, cache reuse) without parsing the log.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from starcoder_ls.engine.base import GenerationResult
from starcoder_ls.text.names import camel

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class ServiceStats:
    requests: int = 0
    """Completion requests received, refused or not."""
    suggested: int = 0
    """Requests answered with at least one suggestion."""
    model_calls: int = 0
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    """Prompt tokens the engine computed, less any it reused (all of them without reuse)."""
    generated_tokens: int = 0
    engine_ms: float = 0.0
    """Sum of the engine's `generate_ms`."""
    cache_hits: int = 0
    """Engine calls answered from the exact cache."""
    typed_ahead_hits: int = 0
    """Requests answered by the rest of a suggestion the user is typing."""
    prefetches: int = 0
    """Completions computed in the background after an accepted suggestion (prefetch.py)."""
    prefetch_hits: int = 0
    """Prefetches that answered a later request from the exact cache or the typed-ahead
    memory they filled; each counts once, so `prefetch_hits / prefetches` is the hit rate."""
    warmups: int = 0
    """Warm-ups begun: the prompt at a focused cursor prefilled in the background (warm.py)."""
    warmups_completed: int = 0
    """Warm-ups whose prompt went through the engine, uncancelled."""
    accepted: int = 0
    """Suggestions the editor reported accepted (the `starcoder.accepted` command), so that
    `accepted / suggested` is the acceptance rate."""
    adopted_generations: int = 0
    """Requests answered from a generation that an earlier keystroke's request started and
    kept running while the user typed what it was writing (inflight.py)."""
    abandoned_generations: int = 0
    """Generations kept past their request, then cancelled without answering one: the
    typing parted ways with them, another edit came, or no request typed on."""

    def count_generation(self, result: GenerationResult) -> None:
        """Count one model call, and log it (figures only)."""
        log.info(
            "model call: %d prompt tokens, %s prefilled, %d generated, %.0f ms%s",
            result.prompt_tokens,
            "?" if result.prefilled_tokens is None else result.prefilled_tokens,
            sum(choice.tokens for choice in result.choices),
            result.generate_ms,
            ", cancelled" if result.cancelled else "",
        )
        self.model_calls += 1
        self.prompt_tokens += result.prompt_tokens
        prefilled = getattr(result, "prefilled_tokens", None)
        self.prefilled_tokens += result.prompt_tokens if prefilled is None else prefilled
        self.generated_tokens += sum(choice.tokens for choice in result.choices)
        self.engine_ms += result.generate_ms

    def to_json(self) -> dict[str, int | float]:
        """camelCase keys, as every other name on the wire."""
        return {camel(name): value for name, value in dataclasses.asdict(self).items()}
