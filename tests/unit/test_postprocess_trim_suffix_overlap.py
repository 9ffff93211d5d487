from __future__ import annotations

import pytest

from starcoder_ls.postprocess.trim_suffix_overlap import trim_suffix_overlap
from starcoder_ls.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("total = sum(█) * 2\n", "a + b)", "a + b"),
        ("total = sum(█) * 2\n", "a + b) * 2", "a + b"),
        ("foo(█, b)\n", "a, b)", "a"),
        ("x = f(█); y()\n", "1);", "1"),
        ("x = █value\n", "2 * value", "2 * "),
        ("s = '█' + name\n", "hello' + name", "hello"),
    ],
    ids=[
        "closing-paren",
        "paren-and-more",
        "rest-of-arguments",
        "paren-semicolon",
        "word",
        "quote",
    ],
)
def test_overlap_with_the_rest_of_the_line_is_cut(
    marked: str, completion: str, expected: str
) -> None:
    assert trim_suffix_overlap(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


@pytest.mark.parametrize(
    ("marked", "completion"),
    [
        ("total = sum(█) * 2\n", "foo(x)"),
        ("x = █value\n", "new_value"),
        ("x = █food\n", "2 * foo"),
        ("print(█)\n", "x)"),
        ('x = ["█"]\n', 'a"]'),
        ("x = █\n", "1"),
    ],
    ids=[
        "own-brackets",
        "inside-word-left",
        "inside-word-right",
        "auto-closed-paren",
        "auto-closed-quote-bracket",
        "nothing-after-cursor",
    ],
)
def test_text_that_only_looks_like_an_overlap_is_kept(marked: str, completion: str) -> None:
    assert trim_suffix_overlap(completion, ctx_from(marked), Mode.SINGLE_LINE) == completion


def test_an_overlap_inside_a_string_the_completion_opened_is_kept() -> None:
    ctx = ctx_from("x = f(█) + 1\n")
    assert trim_suffix_overlap('"a) + 1', ctx, Mode.SINGLE_LINE) == '"a) + 1'


def test_lines_repeated_inside_a_string_literal_are_kept() -> None:
    ctx = ctx_from("def f():\n    █\n    return 1\n")
    completion = 'doc = """\n    return 1\n"""'
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == completion


def test_last_lines_repeating_the_lines_below_are_cut() -> None:
    ctx = ctx_from("def f(x):\n    █\n    return x\n\n\ndef g():\n    pass\n")
    completion = "x += 1\n    return x\n\n\ndef g():"
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == "x += 1"


def test_closing_brace_the_document_already_has_is_cut() -> None:
    ctx = ctx_from("function f() {\n  █\n}\n")
    completion = "return 1;\n}"
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == "return 1;"


def test_a_brace_closing_the_completions_own_block_is_kept() -> None:
    ctx = ctx_from("function f() {\n  █\n}\n")
    completion = "if (x) {\n    return 1;\n  }"
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == completion


def test_lines_that_go_past_the_end_of_the_document_are_cut_at_the_repeat() -> None:
    ctx = ctx_from("def f():\n    █\n    return 1\n")
    completion = "x = 1\n    return 1\n\ndef g():\n    pass"
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == "x = 1"


def test_new_lines_are_kept() -> None:
    ctx = ctx_from("def f():\n    █\n    return 1\n")
    completion = "x = 1\n    y = 2"
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == completion
