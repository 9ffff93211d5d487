"""Which generation calls answer one request: a pure function of the prompt and settings.

An automatic request gets one greedy answer; a multi-line one within the decode budget
(`decodeBudgetMs`: its complete lines once the time is up). An invoked one gets `max_suggestions`
choices: with a sampling temperature all of them from one sampled call; with greedy
settings the greedy answer first (the one the exact cache keeps) and the rest sampled
from a second call whose seed comes from the prompt.
"""

from __future__ import annotations

import dataclasses

from starcoder_ls import postprocess
from starcoder_ls.completion.cache import digest
from starcoder_ls.config import Settings
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.text.types import CompletionContext, Mode

ALTERNATIVES_TEMPERATURE = 0.7
"""Sampling temperature for the extra choices of an invoked completion when the setting is
greedy: greedy decoding has only one answer, and the first choice stays the greedy one."""


def sampling_seed(prompt: str) -> int:
    """A seed from the prompt: asking again at the same place shows the same alternatives
    (as cycling through them expects), and quality runs are reproducible."""
    return int.from_bytes(digest(prompt)[:4])


def stops(
    ctx: CompletionContext, prompt: Prompt, mode: Mode, settings: Settings
) -> tuple[str, ...]:
    """One line ends at the line break; a block where an enabled filter would cut it."""
    if mode is Mode.SINGLE_LINE:
        return ("\n",)
    return postprocess.engine_stops(
        ctx, mode, sees_suffix=bool(prompt.suffix), skip=settings.disabled_filters
    )


def leading_line_break(ctx: CompletionContext, mode: Mode, settings: Settings) -> dict[str, bool]:
    """What a one-line completion with nothing right of the cursor does when the model
    would start with a line break (`leadingLineBreak`). "nextLine" only applies on a blank
    line: there `limit_to_single_line` shows the first line with content on the cursor line;
    on a line with text it would cut everything after the break."""
    if mode is not Mode.SINGLE_LINE or ctx.line_suffix.strip():
        return {}
    choice = settings.for_language("leading_line_break", ctx.language_id)
    if choice == "forbid":
        return {"no_leading_line_break": True}
    if choice == "nextLine" and not ctx.line_prefix.strip():
        return {"stop_after_blank_start": True}
    return {}


def decode_budget(mode: Mode, settings: Settings, *, invoked: bool) -> int:
    """The decode budget of automatic multi-line requests: the user is typing and the
    lines ready are worth more than a block later (prefetch computes the rest after Tab).
    One line ends soon anyway, and an invoked request is waited for."""
    if invoked or mode is not Mode.MULTI_LINE:
        return 0
    return settings.decode_budget_ms


def plan_calls(
    ctx: CompletionContext, prompt: Prompt, mode: Mode, settings: Settings, *, invoked: bool
) -> tuple[GenerationParams, ...]:
    """The engine calls for one request, in the order their choices are shown."""
    params = GenerationParams(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        stop=stops(ctx, prompt, mode, settings),
        token_healing=settings.token_healing,
        kv_reuse=settings.kv_reuse,
        prompt_lookup=settings.prompt_lookup,
        heal_indentation=settings.for_language("heal_indentation", ctx.language_id),
        repetition_stop=settings.for_language("repetition_stop", ctx.language_id),
        decode_budget_ms=decode_budget(mode, settings, invoked=invoked),
        **leading_line_break(ctx, mode, settings),
    )
    wanted = settings.max_suggestions if invoked else 1
    if settings.temperature > 0:
        return (dataclasses.replace(params, n=wanted),)
    if wanted == 1:
        return (params,)
    alternatives = dataclasses.replace(
        params,
        n=wanted - 1,
        temperature=ALTERNATIVES_TEMPERATURE,
        seed=sampling_seed(prompt.text),
    )
    return (params, alternatives)
