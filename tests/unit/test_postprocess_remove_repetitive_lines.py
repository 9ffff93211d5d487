from __future__ import annotations

import pytest

from starcoder_ls.postprocess.remove_repetitive_lines import remove_repetitive_lines
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from


def remove(marked: str, completion: str) -> str | None:
    return remove_repetitive_lines(completion, ctx_from(marked), Mode.MULTI_LINE)


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("def f(x):\n    █\n", "x += 1\n    x += 1\n    x += 1\n    x += 1", "x += 1"),
        (
            "def f(x):\n    █\n",
            "y = 2\n    x += 1\n    x += 1\n    x += 1\n    x +=",
            "y = 2\n    x += 1",
        ),
        (
            "def f(x):\n    █\n",
            "y = 2\n    x += 1\n\n    x += 1\n\n    x += 1",
            "y = 2\n    x += 1",
        ),
    ],
    ids=["first-line-repeated", "last-copy-cut-short", "blank-lines-between"],
)
def test_a_line_repeated_at_the_end_is_kept_once(
    marked: str, completion: str, expected: str
) -> None:
    assert remove(marked, completion) == expected


@pytest.mark.parametrize(
    "completion",
    [
        "x += 1\n    x += 1",
        "x += 1\n    y += 1\n    x += 1\n    y += 1",
        "if x:\n        return 1\n    return 1",
        "x = [\n        0, 0, 0, 0, 0, 0, 0, 0,\n    ]",
        "# ----------------------------------------",
    ],
    ids=["two-copies", "alternating", "different-indent", "repeats-then-closes", "separator"],
)
def test_code_that_only_looks_repetitive_is_kept(completion: str) -> None:
    assert remove("def f(x):\n    █\n", completion) == completion


def test_a_last_line_ending_in_a_loop_is_dropped() -> None:
    completion = "x = 1\n    y = foo(foo(foo(foo(foo(foo(foo(fo"
    assert remove("def f(x):\n    █\n", completion) == "x = 1"


def test_a_single_line_ending_in_a_loop_drops_the_completion() -> None:
    assert remove("x = █\n", "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0") is None
