from __future__ import annotations

import pytest

from starcoder_ls.postprocess.fix_leading_whitespace import fix_leading_whitespace
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("def f(x):\n    █\n", "    return x", "return x"),
        ("def f(x):\n    █\n", "return x", "return x"),
        ("def f(x):\n\t█\n", "\treturn x", "return x"),
        ("def f(x):\n        █\n", "  return x", "return x"),
        ("def f(x):\n    return █\n", " x + 1", "x + 1"),
        ("def f(x):\n    return █\n", "\tx", "x"),
        ("x = 1 █\n", "  # aligned", "  # aligned"),
        ("x =█\n", " 1", " 1"),
        ("def f(x):\n█\n", "    return x", "    return x"),
    ],
    ids=[
        "indent-repeated",
        "no-indent",
        "tab-repeated",
        "shorter-indent",
        "after-space",
        "tab-after-space",
        "alignment-after-space",
        "no-space-before-cursor",
        "cursor-at-column-0",
    ],
)
def test_first_line_is_not_indented_twice(marked: str, completion: str, expected: str) -> None:
    assert fix_leading_whitespace(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


def test_deeper_indent_than_the_cursor_keeps_the_extra() -> None:
    ctx = ctx_from("if x:\n    █\n")
    assert fix_leading_whitespace("        y = 1", ctx, Mode.SINGLE_LINE) == "    y = 1"


def test_multi_line_later_lines_keep_their_columns_when_the_indent_is_repeated() -> None:
    ctx = ctx_from("def f(x):\n    █\n")
    completion = "    if x:\n        return 1\n    return 2"
    assert fix_leading_whitespace(completion, ctx, Mode.MULTI_LINE) == (
        "if x:\n        return 1\n    return 2"
    )


def test_multi_line_later_lines_keep_their_columns_when_the_first_line_is_shorter() -> None:
    # The model wrote its later lines after a newline, so they are already absolute:
    # moving them with the first line broke HumanEval/12 (IndentationError).
    ctx = ctx_from(
        "def longest(strings):\n    for s in strings:\n"
        "        if len(s) == maxlen:\n            █\n"
    )
    completion = " return s\n    return None"
    assert fix_leading_whitespace(completion, ctx, Mode.MULTI_LINE) == "return s\n    return None"


def test_multi_line_after_a_block_opener_is_left_alone() -> None:
    completion = "\n    return 1"
    assert (
        fix_leading_whitespace(completion, ctx_from("def f():█\n"), Mode.MULTI_LINE) == completion
    )


@pytest.mark.parametrize("mode", [Mode.SINGLE_LINE, Mode.MULTI_LINE])
def test_leading_blank_lines_move_up_to_an_indented_blank_cursor_line(mode: Mode) -> None:
    ctx = ctx_from("def f(x):\n    y = x + 1\n    █\n")
    completion = "\n  \n    if y:\n        return y"
    assert fix_leading_whitespace(completion, ctx, mode) == "if y:\n        return y"


def test_leading_blank_lines_stay_at_column_0() -> None:
    completion = "\n\ndef g():\n    pass"
    assert fix_leading_whitespace(completion, ctx_from("x = 1\n█\n"), Mode.MULTI_LINE) == (
        completion
    )


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("go", "func f() {\n\t█\n}\n", "\treturn nil", "return nil"),
        ("c", "int f(void) {\n\tif (x) {\n\t\t█\n", "\t\treturn 0;", "return 0;"),
        ("javascript", "function f() {\n  █\n}\n", "    return 1;", "  return 1;"),
        ("rust", "fn f() {\n    █\n}\n", "    Ok(())", "Ok(())"),
    ],
    ids=["go-tab", "c-tabs", "javascript-deeper", "rust-spaces"],
)
def test_only_blanks_count_whatever_the_language(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert fix_leading_whitespace(completion, ctx, Mode.SINGLE_LINE) == expected


@pytest.mark.parametrize(
    ("language_id", "marked", "completion"),
    [
        ("c", "static PyMethodDef m[] = {\n    {NULL}  █\n", "  /* sentinel */"),
        ("c", "    0,     █\n", "                     /* tp_setattro    */"),
        ("java", "    /**\n     * @param uri    █\n", "      being passed into this function."),
        ("go", "type T struct {\n\tName █\n", '   string `json:"name"`'),
    ],
    ids=["c-sentinel", "c-slot-comment", "java-javadoc", "go-struct-field"],
)
def test_alignment_after_text_is_kept(language_id: str, marked: str, completion: str) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert fix_leading_whitespace(completion, ctx, Mode.SINGLE_LINE) == completion
