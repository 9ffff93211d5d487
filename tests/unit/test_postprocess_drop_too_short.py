from __future__ import annotations

import pytest

from starcoder_ls import postprocess
from starcoder_ls.postprocess.drop_too_short import drop_too_short
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize("completion", ["", " ", "\n\n", "\t \n  "])
def test_blank_completions_are_dropped(completion: str) -> None:
    assert drop_too_short(completion, ctx_from("x = █\n"), Mode.SINGLE_LINE) is None


@pytest.mark.parametrize("completion", [")", " 1 ", "42", " 1)", "\n    xy"])
def test_one_visible_character_is_enough(completion: str) -> None:
    assert drop_too_short(completion, ctx_from("x = █\n"), Mode.SINGLE_LINE) == completion


def test_a_closing_bracket_that_ends_the_statement_reaches_the_editor() -> None:
    suggestion = postprocess.run(")", ctx_from("print(len(items)█\n"), Mode.SINGLE_LINE)
    assert suggestion is not None and suggestion.text == ")"
