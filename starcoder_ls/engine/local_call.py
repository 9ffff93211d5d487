"""One `generate` call of the local engine, apart from the model: what it will run (`Plan`),
the checks that stop it (`Checks`), and how each output row becomes a `Generation`.

No torch here: the rows are lists of ids, the checks are the stopping criteria that
transformers calls after each decode step (stopping.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starcoder_ls.engine.base import Generation, GenerationParams
from starcoder_ls.engine.healing import strip_healed
from starcoder_ls.engine.stopping import (
    CancelCriteria,
    DecodeBudgetCriteria,
    RepetitionCriteria,
    StopStringCriteria,
    TextProgress,
    cut_from,
    decode_tokens,
    stops_from,
)


@dataclass(frozen=True)
class Plan:
    """What one call runs: the prompt's ids (healed), how many tokens and rows."""

    ids: list[int]
    params: GenerationParams
    max_new: int
    removed: str
    """The text token healing took back from the prompt (the completion re-spells it)."""
    reuse: bool
    """Start from a kept KV cache, and keep this call's."""

    @property
    def prompt_tokens(self) -> int:
        return len(self.ids)

    @property
    def sample(self) -> bool:
        return self.params.temperature > 0

    @property
    def rows(self) -> int:
        """`n` samples, or one greedy row however large `n`."""
        return max(1, self.params.n) if self.sample else 1


@dataclass(frozen=True)
class Checks:
    """The stopping criteria of one call; each remembers where it stopped which row."""

    cancel: CancelCriteria
    stop: StopStringCriteria
    repetition: RepetitionCriteria | None
    progress: TextProgress | None = None
    """The first row's text so far for `generate(on_text=...)`; first, so a cancel set
    from it is seen at the same step."""
    budget: DecodeBudgetCriteria | None = None
    """`GenerationParams.decode_budget_ms`: the line end where time ran out."""

    @classmethod
    def of(
        cls,
        tokenizer: Any,
        plan: Plan,
        cancel: threading.Event,
        on_token: Callable[[int], None] | None,
        on_text: Callable[[str], None] | None = None,
    ) -> Checks:
        length = plan.prompt_tokens
        params = plan.params
        # The template's end tokens are eos ids, not text: `</s>` in generated HTML is code.
        stop = StopStringCriteria(
            tokenizer,
            params.stop,
            prompt_length=length,
            skip_chars=len(plan.removed),
            after_blank_start=params.stop_after_blank_start,
            line_ahead=params.line_ahead,
        )
        repetition = None
        if params.repetition_stop:
            repetition = RepetitionCriteria(tokenizer, prompt_length=length)
        progress = None
        if on_text is not None:
            removed = plan.removed

            def healed(text: str) -> None:
                on_text(strip_healed(text, removed))

            progress = TextProgress(tokenizer, healed, prompt_length=length)
        cancel_criteria = CancelCriteria(cancel, prompt_length=length, on_token=on_token)
        return cls(cancel_criteria, stop, repetition, progress, _budget(tokenizer, plan))

    @property
    def criteria(self) -> list[Any]:
        checks = (self.progress, self.cancel, self.stop, self.repetition, self.budget)
        return [c for c in checks if c is not None]

    @property
    def cancelled(self) -> bool:
        return self.cancel.cancelled_at is not None


def _budget(tokenizer: Any, plan: Plan) -> DecodeBudgetCriteria | None:
    """The decode budget's criterion, when the call has one."""
    budget_ms = plan.params.decode_budget_ms
    if budget_ms <= 0:
        return None
    return DecodeBudgetCriteria(
        tokenizer, budget_ms, prompt_length=plan.prompt_tokens, skip_chars=len(plan.removed)
    )


def choice_of(
    row: int, tokens: list[int], plan: Plan, checks: Checks, *, tokenizer: Any, eos: Sequence[int]
) -> Generation:
    """One row's text, its own token count (padding after it stopped excluded) and why."""
    # Earliest end wins; on a tie the more specific reason, hence this order.
    ends: list[tuple[int, str]] = []
    first_eos = next((i for i, token in enumerate(tokens) if token in eos), None)
    if first_eos is not None:
        ends.append((first_eos + 1, "eos"))
    if row in checks.stop.stopped_at:
        ends.append((checks.stop.stopped_at[row], "stop"))
    if checks.repetition is not None and row in checks.repetition.stopped_at:
        ends.append((checks.repetition.stopped_at[row], "repetition"))
    budget = checks.budget
    if budget is not None and row in budget.stopped_at:
        ends.append((budget.stopped_at[row], "budget"))
    if checks.cancel.cancelled_at is not None:
        ends.append((checks.cancel.cancelled_at, "cancelled"))
    ends.append((len(tokens), "length"))
    count, reason = min(ends, key=lambda end: end[0])
    kept = tokens[: count - 1] if reason == "eos" else tokens[:count]
    decoded = decode_tokens(tokenizer, kept)
    text = strip_healed(decoded, plan.removed)
    if reason == "budget" and budget is not None:
        # The criterion's text is the decoded one, healed token included.
        text = text[: max(0, budget.cut_at[row] - (len(decoded) - len(text)))]
    params = plan.params
    start = stops_from(
        text, after_blank_start=params.stop_after_blank_start, line_ahead=params.line_ahead
    )
    text, stop = cut_from(text, params.stop, start)
    if stop is not None and reason != "cancelled":
        reason = "stop"
    return Generation(text=text, tokens=count, stop_reason=reason)
