from __future__ import annotations

import pytest

from starcoder_ls.postprocess.normalize_indentation import normalize_indentation
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from


def normalize(marked: str, completion: str, language_id: str = "python") -> str | None:
    ctx = ctx_from(marked, language_id=language_id)
    return normalize_indentation(completion, ctx, Mode.MULTI_LINE)


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        (
            "func f() {\n\tif x {█\n\t}\n}\n",
            "\n        return 1\n    }",
            "\n\t\treturn 1\n\t}",
        ),
        (
            "func f() {\n\tif x {█\n\t}\n}\n",
            "\n\t    return 1",
            "\n\t\treturn 1",
        ),
        (
            "fn f() {\n\tlet x = 1;\n\t█\n}\n",
            "if x > 0 {\n\t\tprintln!(x);\n\t}",
            "if x > 0 {\n\t\tprintln!(x);\n\t}",
        ),
        (
            "func f() {\n\tg(a,█\n}\n",
            "\n\t  b)",
            "\n\t  b)",
        ),
    ],
    ids=["spaces-to-tabs", "mixed-to-tabs", "tabs-already", "alignment-kept"],
)
def test_a_tab_indented_document_gets_tabs(marked: str, completion: str, expected: str) -> None:
    assert normalize(marked, completion, "go") == expected


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        (
            "class A:\n  def f(self):█\n",
            "\n      if x:\n          return 1\n      return 2",
            "\n    if x:\n      return 1\n    return 2",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n\t\treturn 1\n\treturn 2",
            "\n        return 1\n    return 2",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n      return 1",
            "\n        return 1",
        ),
        (
            "def f(x):\n    if x:█\n",
            "\n        return 1\n    return 2",
            "\n        return 1\n    return 2",
        ),
        (
            "class A:\n  def f(self):█\n",
            "\n      x = (1 +\n           2)",
            "\n    x = (1 +\n         2)",
        ),
    ],
    ids=[
        "four-spaces-to-two",
        "tabs-to-spaces",
        "two-spaces-to-four",
        "already-right",
        "alignment-is-not-a-level",
    ],
)
def test_a_space_indented_document_gets_its_width(
    marked: str, completion: str, expected: str
) -> None:
    assert normalize(marked, completion) == expected


def test_a_document_without_indented_lines_says_nothing_and_nothing_changes() -> None:
    completion = "\n  y();\n}"
    assert normalize("if (x) {█\n}\n", completion, "javascript") == completion


def test_lines_inside_a_string_literal_keep_their_indentation() -> None:
    completion = '\n\t"""Doc.\n\n\t  keep this\n\t"""\n\treturn 1'
    assert normalize("class A:\n    def f(self):█\n", completion) == (
        '\n    """Doc.\n\n\t  keep this\n\t"""\n    return 1'
    )


def test_the_first_line_is_left_to_fix_leading_whitespace() -> None:
    assert normalize("def f():\n\t█\n", "  x = 1", "go") == "  x = 1"
