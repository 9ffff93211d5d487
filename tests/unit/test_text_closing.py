from __future__ import annotations

import pytest

from starcoder_ls.text.closing import imbalance, is_auto_closed_only, replaced_suffix_length
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "covered"),
    [
        ("print(█)\n", "x)", 1),
        ("print(█)\n", "f(x)", 0),
        ("print(█)\n", "x", 0),
        ('print("█")\n', 'say \\"hi\\"")', 2),
        ('print("█")\n', 'a", "b")', 2),
        ('print("█")\n', 'a", "b', 0),
        ("x = [f(█)]\n", "a)]", 2),
        ("x = [f(█)]\n", "a]", 0),
        ("x = f(█)  \n", "a)", 1),
        ("print(█) + 1\n", "x)", 0),
        ("print(█)\n", "x)\ny", 0),
        ("foo(\n    bar(█)\n", "x))", 1),
    ],
    ids=[
        "closer",
        "own-pair",
        "no-closer",
        "escaped-quotes",
        "new-string-after-close",
        "second-string-keeps-the-quote",
        "two-closers",
        "wrong-order",
        "trailing-blanks",
        "real-text-after",
        "multi-line",
        "closes-a-call-from-the-line-above",
    ],
)
def test_replaced_suffix_length(marked: str, completion: str, covered: int) -> None:
    assert replaced_suffix_length(completion, ctx_from(marked)) == covered


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [(")", True), ('"]', True), (");  ", True), ("", False), ("  ", False), (") + 1", False)],
)
def test_is_auto_closed_only(suffix: str, expected: bool) -> None:
    assert is_auto_closed_only(suffix) is expected


@pytest.mark.parametrize(
    ("line_prefix", "text", "expected"),
    [("f(", "a)", 1), ("f(", "a", 0), ("f(", "g(a", 1), ("", "'abc", 1), ("'", "abc'", 1)],
)
def test_imbalance_counts_what_the_text_closes_or_leaves_open(
    line_prefix: str, text: str, expected: int
) -> None:
    assert imbalance(text, line_prefix) == expected
