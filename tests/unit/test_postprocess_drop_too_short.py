from __future__ import annotations

import pytest

from starcoder_ls.postprocess.drop_too_short import drop_too_short
from starcoder_ls.types import Mode
from tests.unit.cursor import ctx_from


@pytest.mark.parametrize("completion", ["", " ", "\n\n", "\t \n  ", "x", " 1 ", "\n    )"])
def test_blank_and_one_character_completions_are_dropped(completion: str) -> None:
    assert drop_too_short(completion, ctx_from("x = █\n"), Mode.SINGLE_LINE) is None


@pytest.mark.parametrize("completion", ["42", " 1)", "\n    xy"])
def test_two_visible_characters_are_kept_as_is(completion: str) -> None:
    assert drop_too_short(completion, ctx_from("x = █\n"), Mode.SINGLE_LINE) == completion
