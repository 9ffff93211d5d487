"""Stopping prefix-only models (the embedded default) where their text stops being useful.

Such a model never sees the suffix; in Python the first line that leaves the cursor's block
is where post-processing would cut anyway, so the engine stops there.
"""

from __future__ import annotations

import pytest

from starcoder_ls import postprocess
from starcoder_ls.config import Settings
from starcoder_ls.engine.stopping import cut_at_stop
from starcoder_ls.fim import PREFIX_ONLY, get_template
from starcoder_ls.prompt import Prompt
from starcoder_ls.service import CompletionRequest, _suffix_stops
from starcoder_ls.trigger import decide
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, serving

LEFT_TO_RIGHT = Prompt(text="", prefix="", suffix="", context="", tokens=0)
FIM = Prompt(text="", prefix="", suffix="\n    return total\n", context="", tokens=0)

BODY = """\
def total_price(items):
    total = 0
    for item in items:
        █
    return total
"""


def test_models_that_see_the_suffix_get_no_stops() -> None:
    assert _suffix_stops(ctx_from(BODY), FIM) == ()
    assert _suffix_stops(None, LEFT_TO_RIGHT) == ()


def test_in_python_a_line_left_of_the_cursor_block_stops_it() -> None:
    stops = _suffix_stops(ctx_from(BODY), LEFT_TO_RIGHT)

    assert {"\nd", "\n#", "\n`", "\n    r", "\n    _"} <= set(stops)
    assert not any(stop.startswith("\n        ") for stop in stops)  # the block itself
    assert not any(stop[-1] in ")]}" for stop in stops)  # closers may belong to the block


def test_tabs_and_odd_indentation() -> None:
    tabs = _suffix_stops(ctx_from("def f(x):\n\tif x:\n\t\t█\n"), LEFT_TO_RIGHT)
    assert {"\nd", "\n\tr"} <= set(tabs)
    odd = _suffix_stops(ctx_from("def f(x):\n    if x:\n      █\n"), LEFT_TO_RIGHT)
    assert "\nd" in odd and not any(stop.startswith("\n ") for stop in odd)


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        pytest.param(BODY.replace("█", "█x"), "python", id="code-right-of-the-cursor"),
        pytest.param(BODY.replace("        █", "        y = █"), "python", id="code-left"),
        pytest.param("total = 0\n█\nprint(total)\n", "python", id="top-level"),
        pytest.param(
            "function f(xs) {\n  for (const x of xs) {\n    █\n  }\n}\n", "javascript", id="js"
        ),
    ],
)
def test_block_stops_only_on_a_blank_indented_python_line(marked: str, language_id: str) -> None:
    stops = _suffix_stops(ctx_from(marked, language_id=language_id), LEFT_TO_RIGHT)

    assert stops == ()


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
    cut, stop = cut_at_stop(model_text, _suffix_stops(ctx, LEFT_TO_RIGHT))

    assert mode is Mode.MULTI_LINE and stop is not None
    whole, early = postprocess.run(model_text, ctx, mode), postprocess.run(cut, ctx, mode)
    assert whole == early and whole is not None


@pytest.mark.parametrize(
    ("template", "marked", "expected", "disabled"),
    [
        pytest.param(PREFIX_ONLY.name, BODY, "block", (), id="prefix-only-multi-line"),
        pytest.param(PREFIX_ONLY.name, "x = max(█)\n", "newline", (), id="single-line"),
        pytest.param("starcoder", BODY, "none", (), id="fim-sees-the-suffix"),
        pytest.param(
            PREFIX_ONLY.name, BODY, "none", ("limit_scope_by_indentation",), id="scope-disabled"
        ),
    ],
)
async def test_the_service_passes_the_stops_to_the_engine(
    template: str, marked: str, expected: str, disabled: tuple[str, ...]
) -> None:
    engine = FakeEngine(lambda prompt, params: ["total += item.price"], get_template(template))
    async with serving(engine, Settings(debounce_ms=0, disabled_filters=disabled)) as service:
        await service.complete(CompletionRequest(ctx=ctx_from(marked)))

    ((_, params),) = engine.calls
    stops = params.stop
    if expected == "block":
        assert "\nd" in stops and "\n    r" in stops
    elif expected == "newline":
        assert stops == ("\n",)
    else:
        assert stops == ()
