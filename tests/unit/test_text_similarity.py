from __future__ import annotations

import pytest

from starcoder_ls.text.similarity import _distance_within, nearly_equal


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("foo(a, b)", "foo(a,b)"),
        ("return x", "return x;"),
        ("y();\n}", "  y();\n}"),
        ("total = compute(first, second)", "total = compute(first, secnd)"),
    ],
    ids=["spacing", "semicolon", "indentation", "one-typo-in-a-long-line"],
)
def test_same_code(first: str, second: str) -> None:
    assert nearly_equal(first, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [("return x", "return y"), ("x = 1", "x = 12"), ("", "x"), ("a\nb", "a\nc")],
)
def test_different_code(first: str, second: str) -> None:
    assert not nearly_equal(first, second)


@pytest.mark.parametrize(
    ("first", "second", "distance"),
    [("kitten", "sitting", 3), ("abc", "abc", 0), ("", "abc", 3), ("flaw", "lawn", 2)],
)
def test_banded_distance_agrees_with_levenshtein(first: str, second: str, distance: int) -> None:
    assert _distance_within(first, second, distance)
    assert distance == 0 or not _distance_within(first, second, distance - 1)


def test_long_texts_stay_cheap() -> None:
    first = "x = compute(a, b)\n" * 150
    assert nearly_equal(first, first.replace("b)", "c)", 3))
