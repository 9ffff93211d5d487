from __future__ import annotations

import pytest

from starcoder_ls.postprocess.drop_duplicated_suffix import drop_duplicated_suffix
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion"),
    [
        ("foo(█x, y)\n", "x, y)"),
        ("foo(█x, y)\n", "x"),
        ("foo(█x, y)\n", "x,y)"),
        ("print(█)\n", ")"),
        ("def f(x):\n    █\n    return x\n", "return x"),
        ("def f(x):\n    █\n\n    return x\n", "return x"),
        ("x = █\nx = 1\n", "1"),
        ("if (x) {\n  █\n  y();\n}\n", "y();\n}"),
        ("if (x) {\n  █\n  y(a, b);\n}\n", "y(a,b)"),
        ("function f() {\n  █\n  return compute(a, b, c);\n}\n", "return compute(a, b, c)"),
        (
            "def f():\n    █\n    total = compute(first, second)\n",
            "total = compute(first, second),",
        ),
        ("def f(x):\n    █\n    total = compute(a, b)\n", "total = compute(a, c)"),
    ],
    ids=[
        "rest-of-line",
        "start-of-rest-of-line",
        "rest-of-line-other-spacing",
        "closing-paren",
        "next-line",
        "next-non-blank-line",
        "line-with-prefix",
        "next-lines",
        "other-spacing-no-semicolon",
        "missing-semicolon",
        "extra-comma",
        "one-character-off-in-a-long-line",
    ],
)
def test_completions_that_only_repeat_what_follows_are_dropped(
    marked: str, completion: str
) -> None:
    assert drop_duplicated_suffix(completion, ctx_from(marked), Mode.SINGLE_LINE) is None


@pytest.mark.parametrize(
    ("marked", "completion"),
    [
        ("foo(█x, y)\n", "w, "),
        ("def f(x):\n    █\n    return x\n", "x += 1"),
        ("def f(x):\n    █\n    return x\n", "return y"),
        ("if (x) {\n  █\n  y();\n}\n", "y();\n  z();"),
        ("def f(x):\n    █", "return x"),
        ("x = █\n", ""),
    ],
    ids=[
        "new-text-before-suffix",
        "new-line",
        "other-name",
        "repeat-then-new",
        "end-of-document",
        "empty",
    ],
)
def test_completions_with_something_new_are_kept(marked: str, completion: str) -> None:
    assert drop_duplicated_suffix(completion, ctx_from(marked), Mode.SINGLE_LINE) == completion
