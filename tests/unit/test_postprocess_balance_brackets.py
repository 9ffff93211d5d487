from __future__ import annotations

import pytest

from starcoder_ls.postprocess.balance_brackets import balance_brackets
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("print(█)\n", "x))", "x)"),
        ("print(█)\n", "x)) + 1", "x)"),
        ("x = [f(█)]\n", "abc]", "abc"),
        ("x = [f(█)]\n", "abc)]]", "abc)]"),
        ("x = 1█\n", " + 2)", " + 2"),
        ("x = y(█)\n", "a) }", "a)"),
    ],
    ids=[
        "one-closer-too-many",
        "too-many-then-more",
        "wrong-kind",
        "two-kinds-one-too-many",
        "nothing-open",
        "brace-never-opened",
    ],
)
def test_closers_that_match_nothing_are_cut(marked: str, completion: str, expected: str) -> None:
    assert balance_brackets(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


@pytest.mark.parametrize(
    ("marked", "completion"),
    [
        ("print(█)\n", "x)"),
        ("print(█)\n", "foo(x))"),
        ("foo(\n    bar(█)\n", "x))"),
        ("if (x) {\n  y(█)\n", "a) }"),
        ('print("█")\n', 'a) and (b")'),
        ("print(█)\n", "')'"),
        ("x = f(█) + 1\n", "a))"),
        ("def f():█\n", "\n    return g())"),
    ],
    ids=[
        "closes-the-open-paren",
        "own-pair-then-closer",
        "closes-a-call-from-the-line-above",
        "closes-a-brace-from-the-line-above",
        "brackets-inside-a-string",
        "bracket-in-a-new-string",
        "real-text-after-the-cursor",
        "multi-line",
    ],
)
def test_balanced_completions_are_kept(marked: str, completion: str) -> None:
    assert balance_brackets(completion, ctx_from(marked), Mode.SINGLE_LINE) == completion
