from __future__ import annotations

import pytest

from starcoder_ls.postprocess.remove_repetitive_lines import remove_repetitive_lines
from starcoder_ls.text.types import Mode
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


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        pytest.param("x = █\n", "f(a); 1. 1. 1. 1. 1. 1. 1.", "f(a);", id="statement-then-loop"),
        pytest.param(
            "let f = █\n",
            "open(doc)File::create(PathBuf::from(doc), File::create(PathBuf::from(doc), "
            "File::create(PathBuf::from(doc), File::create(PathBuf::from(doc), "
            "File::create(PathBuf::from(doc), File::cre",
            "open(doc)",
            id="call-then-loop-of-calls",
        ),
        pytest.param(
            "def f(x):\n    █\n",
            "y = 2\n    return y 1. 1. 1. 1. 1. 1.",
            "y = 2\n    return y",
            id="later-line",
        ),
    ],
)
def test_the_code_before_a_loop_is_kept_when_it_can_end_there(
    marked: str, completion: str, expected: str
) -> None:
    assert remove(marked, completion) == expected


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        pytest.param("x = █\n", "1. 1. 1. 1. 1. 1. 1. 1.", None, id="only-the-loop"),
        pytest.param("1. 1. 1. █\n", "1. 1. 1. 1. 1.", None, id="loop-begun-before-the-cursor"),
        pytest.param("x = █\n", "(foo(foo(foo(foo(foo(foo(", None, id="punctuation-before"),
        pytest.param(
            "def f(x):\n    █\n", "y = 2\n    z = foo(foo(foo(foo(foo(foo(", "y = 2", id="open-end"
        ),
    ],
)
def test_a_loop_with_nothing_that_can_end_before_it_goes(
    marked: str, completion: str, expected: str | None
) -> None:
    assert remove(marked, completion) == expected


def test_single_line_mode_keeps_the_code_before_a_loop_too() -> None:
    text = "f(a); 1. 1. 1. 1. 1. 1. 1."
    assert remove_repetitive_lines(text, ctx_from("x = █\n"), Mode.SINGLE_LINE) == "f(a);"


def test_long_number_literals_are_no_loop() -> None:
    from starcoder_ls.text.loops import loop_start

    assert loop_start("x = 10000000000") is None
    assert loop_start("mask = 0x" + "f" * 32) is None
    assert loop_start("x = 1" + "0" * 80) == len("x = 1")
