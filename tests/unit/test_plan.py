"""The generation calls planned for a request, and the stops that end them early.

Prefix-only models (the embedded default) never see the suffix; the first line that leaves
the cursor's block is where post-processing would cut anyway, so the engine stops there
(per language: tests/unit/test_block_exit_stops.py).
"""

from __future__ import annotations

import pytest

from starcoder_ls import postprocess
from starcoder_ls.completion.plan import ALTERNATIVES_TEMPERATURE, plan_calls, sampling_seed
from starcoder_ls.completion.trigger import decide
from starcoder_ls.config import Settings
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.stopping import cut_at_stop
from starcoder_ls.postprocess.limit_scope_by_indentation import block_exit_stops
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from

LEFT_TO_RIGHT = Prompt(text="x = ", prefix="x = ", suffix="", context="", tokens=2)
FIM = Prompt(text="x = ", prefix="x = ", suffix="\n    return total\n", context="", tokens=2)

BODY = """\
def total_price(items):
    total = 0
    for item in items:
        █
    return total
"""


def block_stops(marked: str, language_id: str = "python") -> tuple[str, ...]:
    return block_exit_stops(ctx_from(marked, language_id=language_id), Mode.MULTI_LINE, False)


# -- the calls --------------------------------------------------------------------------


def test_an_automatic_request_is_one_greedy_call() -> None:
    settings = Settings(max_new_tokens=40, top_p=0.9, token_healing=False)
    (call,) = plan_calls(ctx_from(BODY), LEFT_TO_RIGHT, Mode.SINGLE_LINE, settings, invoked=False)
    assert (call.n, call.temperature, call.seed, call.stop) == (1, 0.0, None, ("\n",))
    assert (call.max_new_tokens, call.top_p, call.token_healing) == (40, 0.9, False)


def test_an_invoked_greedy_request_adds_seeded_samples_after_the_greedy_answer() -> None:
    settings = Settings(max_suggestions=3)
    greedy, sampled = plan_calls(
        ctx_from(BODY), LEFT_TO_RIGHT, Mode.SINGLE_LINE, settings, invoked=True
    )
    assert (greedy.n, greedy.temperature, greedy.seed) == (1, 0.0, None)
    assert (sampled.n, sampled.temperature) == (2, ALTERNATIVES_TEMPERATURE)
    assert sampled.seed == sampling_seed(LEFT_TO_RIGHT.text) != sampling_seed("y = ")
    assert sampled.stop == greedy.stop


def test_prompt_lookup_reaches_every_call_and_the_engine_uses_it_when_greedy() -> None:
    settings = Settings(prompt_lookup=7, max_suggestions=3)
    calls = plan_calls(ctx_from(BODY), LEFT_TO_RIGHT, Mode.SINGLE_LINE, settings, invoked=True)
    assert [call.prompt_lookup for call in calls] == [7, 7]
    ctx = ctx_from(BODY)
    (default,) = plan_calls(ctx, LEFT_TO_RIGHT, Mode.SINGLE_LINE, Settings(), invoked=False)
    assert default.prompt_lookup == Settings().prompt_lookup


def test_a_sampling_temperature_draws_every_choice_from_one_call() -> None:
    settings = Settings(temperature=0.4, max_suggestions=4)
    (call,) = plan_calls(ctx_from(BODY), LEFT_TO_RIGHT, Mode.SINGLE_LINE, settings, invoked=True)
    assert (call.n, call.temperature, call.seed) == (4, 0.4, None)
    one = plan_calls(ctx_from(BODY), LEFT_TO_RIGHT, Mode.SINGLE_LINE, settings, invoked=False)
    assert [c.n for c in one] == [1]


@pytest.mark.parametrize(
    ("prompt", "mode", "disabled", "expected"),
    [
        pytest.param(LEFT_TO_RIGHT, Mode.MULTI_LINE, (), "block", id="prefix-only-block"),
        pytest.param(LEFT_TO_RIGHT, Mode.SINGLE_LINE, (), "newline", id="single-line"),
        pytest.param(FIM, Mode.MULTI_LINE, (), "none", id="fim-sees-the-suffix"),
        pytest.param(
            LEFT_TO_RIGHT,
            Mode.MULTI_LINE,
            ("limit_scope_by_indentation",),
            "none",
            id="scope-filter-disabled",
        ),
    ],
)
def test_stops_follow_the_mode_and_the_filter_they_anticipate(
    prompt: Prompt, mode: Mode, disabled: tuple[str, ...], expected: str
) -> None:
    settings = Settings(disabled_filters=disabled)
    (call,) = plan_calls(ctx_from(BODY), prompt, mode, settings, invoked=False)
    if expected == "block":
        assert call.stop == block_stops(BODY) and "\nd" in call.stop
    elif expected == "newline":
        assert call.stop == ("\n",)
    else:
        assert call.stop == ()


# -- block-exit stops -------------------------------------------------------------------


def test_models_that_see_the_suffix_or_write_one_line_get_no_block_stops() -> None:
    ctx = ctx_from(BODY)
    assert block_exit_stops(ctx, Mode.MULTI_LINE, True) == ()
    assert block_exit_stops(ctx, Mode.SINGLE_LINE, False) == ()


def test_in_python_a_line_left_of_the_cursor_block_stops_it() -> None:
    stops = block_stops(BODY)

    assert {"\nd", "\n#", "\n`", "\n    r", "\n    _"} <= set(stops)
    assert not any(stop.startswith("\n        ") for stop in stops)  # the block itself
    # `    return total` below leaves the loop's closing line at that width to the filter
    assert not any(stop.startswith("\n    ") and stop[5] in ")]}" for stop in stops)


def test_tabs_and_odd_indentation() -> None:
    tabs = block_stops("def f(x):\n\tif x:\n\t\t█\n")
    assert {"\nde", "\n\tr"} <= set(tabs)  # at the end of the file `done` may close it
    odd = block_stops("def f(x):\n    if x:\n      █\n")
    assert "\nde" in odd and not any(stop.startswith("\n      ") for stop in odd)


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        pytest.param(BODY.replace("█", "█x"), "python", id="code-right-of-the-cursor"),
        pytest.param("total = 0\n█\nprint(total)\n", "python", id="top-level"),
        pytest.param("function f(xs) {\n█\n}\n", "javascript", id="js-column-0"),
    ],
)
def test_no_block_stops_before_code_or_at_column_0(marked: str, language_id: str) -> None:
    assert block_stops(marked, language_id) == ()


@pytest.mark.parametrize(
    "model_text",
    [
        "total += item.price\n    return total\n\n\ndef tax(items):\n    return 0\n",
        "total += item.price\n        if total > 100:\n            break\n"
        "    return total\n```\n\nThis function sums the prices.",
        "if item.price:\n            total += item.price\n\n# Example usage\n"
        "print(total_price([]))",
        "total += item.price\n    print(total)\n    return total\n",
    ],
)
def test_stopping_early_changes_no_suggestion(model_text: str) -> None:
    """What the engine returns when it stops (the text cut before the stop) post-processes
    to the same suggestion as the whole text would: the stops only save tokens."""
    ctx = ctx_from(BODY)
    mode = decide(ctx)
    cut, stop = cut_at_stop(model_text, block_stops(BODY))

    assert mode is Mode.MULTI_LINE and stop is not None
    whole, early = postprocess.run(model_text, ctx, mode), postprocess.run(cut, ctx, mode)
    assert whole == early and whole is not None


def test_engine_stops_skip_a_disabled_filter_by_its_name() -> None:
    ctx = ctx_from(BODY)
    on = postprocess.engine_stops(ctx, Mode.MULTI_LINE, sees_suffix=False)
    off = postprocess.engine_stops(
        ctx, Mode.MULTI_LINE, sees_suffix=False, skip=("limit_scope_by_indentation",)
    )
    assert on == block_stops(BODY) and off == ()
