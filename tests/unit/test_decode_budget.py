"""The decode budget (`decodeBudgetMs`): once the time is up, a multi-line completion ends
at its next line end; the lines shown are whole, never cut. A fake clock drives it."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import torch

from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.config import Settings
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.local_call import Checks, Plan, choice_of
from starcoder_ls.engine.remote.choices import Choice, add_piece
from starcoder_ls.engine.remote.dialects import Piece
from starcoder_ls.engine.stopping import DecodeBudgetCriteria, line_end_after
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from

PIECES = ["<p>", "a = 1", "\n", "b", " = 2", "\n", "c = 3", "\n    ", "d", "\n\n", "    "]
A, NL, B, B2, C, NL_INDENT, D, NL_NL, BLANKS = 1, 2, 3, 4, 6, 7, 8, 9, 10


class Tokenizer:
    def decode(self, token_ids: list[int], **kwargs: object) -> str:
        return "".join(PIECES[i] for i in token_ids)


class Clock:
    """Advances by `step` seconds at every reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def stops_at(criteria: DecodeBudgetCriteria, tokens: list[int]) -> int | None:
    """The step (tokens generated) at which the criterion stopped the row, if any."""
    for step in range(1, len(tokens) + 1):
        if criteria(torch.tensor([[0, *tokens[:step]]]), None).tolist() == [True]:
            return step
    return None


def test_line_end_after_finds_the_first_line_end_from_the_new_text_once_content_began() -> None:
    assert line_end_after("a\nbc", 3) is None
    assert line_end_after("a\nbc\nd", 3) == 4
    assert line_end_after("a\n", 2) == 1  # the previous text ended the line
    assert line_end_after("\n    ", 0) is None  # nothing but blanks yet
    assert line_end_after("\n  x\n", 0) == 4


def test_the_budget_stops_at_the_first_line_end_after_it_never_mid_line() -> None:
    tokens = [A, NL, B, B2, NL, C, NL]
    # 10 ms a reading, 25 ms budget: over at the 4th token (" = 2", mid-line).
    criteria = DecodeBudgetCriteria(Tokenizer(), 25, prompt_length=1, clock=Clock(0.010))
    assert stops_at(criteria, tokens) == 5
    text = criteria.text(0)
    assert text[: criteria.cut_at[0]] == "a = 1\nb = 2"


def test_nothing_stops_before_the_budget() -> None:
    criteria = DecodeBudgetCriteria(Tokenizer(), 1000, prompt_length=1, clock=Clock(0.010))
    assert stops_at(criteria, [A, NL, B, B2, NL, C, NL]) is None


def test_a_line_break_token_that_opens_the_next_line_is_cut_before_its_break() -> None:
    criteria = DecodeBudgetCriteria(Tokenizer(), 1, prompt_length=1, clock=Clock(0.010))
    assert stops_at(criteria, [C, NL_INDENT, D]) == 2
    assert criteria.text(0)[: criteria.cut_at[0]] == "c = 3"


def checks_for(params: GenerationParams, clock: Clock) -> tuple[Plan, Checks]:
    plan = Plan(ids=[0], params=params, max_new=16, removed="", reuse=False)
    checks = Checks.of(Tokenizer(), plan, threading.Event(), None)
    if checks.budget is not None:
        checks.budget._clock = clock
    return plan, checks


def test_the_local_engine_shows_the_complete_lines_and_says_budget() -> None:
    plan, checks = checks_for(GenerationParams(decode_budget_ms=25), Clock(0.010))
    tokens = [A, NL, B, B2, NL_INDENT, D, NL]
    step = None
    for step in range(1, len(tokens) + 1):
        flags = [c(torch.tensor([[0, *tokens[:step]]]), None) for c in checks.criteria]
        if any(bool(f.any()) for f in flags):
            break
    assert step == 5
    choice = choice_of(0, tokens, plan, checks, tokenizer=Tokenizer(), eos=[])
    assert (choice.text, choice.tokens, choice.stop_reason) == ("a = 1\nb = 2", 5, "budget")


def test_no_budget_no_criterion() -> None:
    _, checks = checks_for(GenerationParams(), Clock(1.0))
    assert checks.budget is None
    assert not any(isinstance(c, DecodeBudgetCriteria) for c in checks.criteria)


def remote(budget_ms: int, texts: list[str], step: float) -> Choice:
    choice, clock = Choice(), Clock(step)
    params = GenerationParams(decode_budget_ms=budget_ms, max_new_tokens=64)
    for text in texts:
        add_piece(choice, Piece(text=text, token=True), params, clock)
    return choice


def test_the_remote_choice_is_cut_at_the_line_end_after_the_budget() -> None:
    choice = remote(25, ["a = 1", "\n", "b", " = 2", "\nc", " = 3", "\n"], 0.010)
    assert (choice.text, choice.reason) == ("a = 1\nb = 2", "budget")
    assert choice.generation().stop_reason == "budget"


def test_the_remote_choice_without_budget_or_before_it_is_whole() -> None:
    pieces = ["a = 1", "\n", "b", " = 2", "\nc"]
    assert remote(0, pieces, 1.0).text == "a = 1\nb = 2\nc"
    assert remote(10_000, pieces, 0.010).text == "a = 1\nb = 2\nc"


BODY = """\
def total_price(items):
    total = 0
    for item in items:
        █
    return total
"""
PROMPT = Prompt(text="x = ", prefix="x = ", suffix="", context="", tokens=2)


def test_only_automatic_multi_line_calls_get_the_budget() -> None:
    settings = Settings(decode_budget_ms=300, max_suggestions=3)
    ctx = ctx_from(BODY)
    (multi,) = plan_calls(ctx, PROMPT, Mode.MULTI_LINE, settings, invoked=False)
    assert multi.decode_budget_ms == 300
    (single,) = plan_calls(ctx, PROMPT, Mode.SINGLE_LINE, settings, invoked=False)
    assert single.decode_budget_ms == 0
    for call in plan_calls(ctx, PROMPT, Mode.MULTI_LINE, settings, invoked=True):
        assert call.decode_budget_ms == 0
    assert Settings().decode_budget_ms == 400
    off_settings = Settings(decode_budget_ms=0)
    (off,) = plan_calls(ctx, PROMPT, Mode.MULTI_LINE, off_settings, invoked=False)
    assert off.decode_budget_ms == 0


def test_the_local_engine_on_a_real_model_stops_at_a_line_end_once_the_budget_passed(
    tiny_starcoder_dir: Path,
) -> None:
    """The tiny StarCoder made to write three lines, 10 ms a step, with a 25 ms budget: the
    second line is being written when the time is up, and it is finished and shown whole."""
    from starcoder_ls.engine.local import LocalEngine
    from starcoder_ls.engine.settings import EngineSettings
    from tests.support.logit_steering import force, steered

    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    try:
        tokenizer = engine.tokenizer
        script = tokenizer.encode("a = 1\nbb = 22\nccc = 333\n", add_special_tokens=False)
        params = GenerationParams(
            max_new_tokens=len(script) + 4, token_healing=False, decode_budget_ms=25
        )
        steer = force(script, banned=[tokenizer.eos_token_id])
        with steered(engine.model, steer):
            budgeted = engine.generate(
                "x = 0\n", params, threading.Event(), on_token=lambda n: time.sleep(0.010)
            )
        with steered(engine.model, steer):
            whole = engine.generate(
                "x = 0\n", dataclasses.replace(params, decode_budget_ms=0), threading.Event()
            )
    finally:
        engine.close()
    (choice,) = budgeted.choices
    assert choice.stop_reason == "budget"
    assert choice.text in ("a = 1\nbb = 22", "a = 1")
    assert whole.choices[0].text.startswith("a = 1\nbb = 22\nccc = 333\n")
