from __future__ import annotations

import pytest

from starcoder_ls.postprocess.trim_trailing_whitespace import trim_trailing_whitespace
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("x = █\n", "1   ", "1"),
        ("def f():█\n", "\n    return 1\n\n", "\n    return 1"),
        ("print(█)\n", "x ", "x"),
        ('s = "█"\n', "hello \t", "hello"),
    ],
    ids=["end-of-line", "multi-line-blank-lines", "before-paren", "before-quote"],
)
def test_trailing_whitespace_is_removed(marked: str, completion: str, expected: str) -> None:
    assert trim_trailing_whitespace(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


def test_a_blank_that_separates_the_completion_from_text_is_kept() -> None:
    ctx = ctx_from("x = █+ 1\n")
    assert trim_trailing_whitespace("a ", ctx, Mode.SINGLE_LINE) == "a "
