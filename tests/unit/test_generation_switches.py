"""The settings behind the repetition stop, the leading line break and healing's boundary:
per language, validated, and handed to each engine call by the plan."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.plan import plan_calls
from starcoder_ls.config import Settings, merge
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from

PROMPT = Prompt(text="x", prefix="x", suffix="", context="", tokens=1)


def call(marked: str, settings: Settings, mode: Mode = Mode.SINGLE_LINE, language: str = "rust"):
    ctx = ctx_from(marked, language_id=language)
    (params,) = plan_calls(ctx, PROMPT, mode, settings, invoked=False)
    return params


def test_defaults_reach_the_engine() -> None:
    params = call("fn f() {\n    let x = █\n}\n", Settings())
    assert params.repetition_stop is True
    assert params.heal_indentation == "free"
    assert params.no_leading_line_break is True
    assert params.stop_after_blank_start is False


def test_one_value_or_one_per_language() -> None:
    result = merge(
        Settings(),
        {
            "repetitionStop": {"python": False, "*": True},
            "healIndentation": {"rust": "keep"},
            "leadingLineBreak": "allow",
        },
    )
    assert result.errors == []
    settings = result.settings
    assert settings.for_language("repetition_stop", "python") is False
    assert settings.for_language("repetition_stop", "go") is True
    assert settings.for_language("heal_indentation", "rust") == "keep"
    assert settings.for_language("heal_indentation", "go") == "free"  # no "*": the default
    assert settings.for_language("leading_line_break", "go") == "allow"
    assert call("let x = █\n", settings, language="python").repetition_stop is False
    assert call("let x = █\n", settings).heal_indentation == "keep"
    assert hash(settings)  # settings stay hashable (they key caches)


@pytest.mark.parametrize(
    ("options", "wording"),
    [
        ({"healIndentation": "never"}, "free, keep, skip"),
        ({"leadingLineBreak": {"go": "show"}}, "go: must be one of allow, forbid, nextLine"),
        ({"repetitionStop": {}}, "object of language ids"),
        ({"repetitionStop": {"": True}}, "non-empty"),
        ({"repetitionStop": "yes"}, "true or false"),
    ],
)
def test_invalid_values_are_named_and_the_old_one_kept(options: dict, wording: str) -> None:
    result = merge(Settings(), options)
    assert result.settings == Settings()
    assert len(result.errors) == 1 and wording in result.errors[0]


@pytest.mark.parametrize(
    ("marked", "mode", "choice", "forbid", "next_line"),
    [
        pytest.param("let x = █\n", Mode.SINGLE_LINE, "forbid", True, False, id="forbid"),
        pytest.param("let x = █\n", Mode.SINGLE_LINE, "allow", False, False, id="allow"),
        pytest.param("    █\n", Mode.SINGLE_LINE, "nextLine", False, True, id="next-line-blank"),
        pytest.param("x = █\n", Mode.SINGLE_LINE, "nextLine", False, False, id="next-line-text"),
        pytest.param("f(█)\n", Mode.SINGLE_LINE, "forbid", False, False, id="text-after-cursor"),
        pytest.param("    █\n", Mode.MULTI_LINE, "forbid", False, False, id="multi-line"),
        pytest.param("    █\n", Mode.MULTI_LINE, "nextLine", False, False, id="multi-line-next"),
    ],
)
def test_the_leading_line_break_rule_applies_to_one_line_with_nothing_after_the_cursor(
    marked: str, mode: Mode, choice: str, forbid: bool, next_line: bool
) -> None:
    params = call(marked, Settings(leading_line_break=choice), mode)
    assert (params.no_leading_line_break, params.stop_after_blank_start) == (forbid, next_line)
