from __future__ import annotations

import pytest

from starcoder_ls.postprocess.trim_suffix_overlap import trim_suffix_overlap
from starcoder_ls.text.types import Mode
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


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("c", "int f(void) {\n  if (x) {\n    █\n  }\n}\n", "y();\n  }", "y();"),
        ("java", "class A {\n  void f() {\n    █\n  }\n}\n", "y();\n  }\n}", "y();"),
        ("go", "func f() {\n\tif x {\n\t\t█\n\t}\n}\n", "y()\n\t}", "y()"),
        ("rust", "fn f() {\n    match x {\n        █\n    }\n}\n", "_ => {}\n    }", "_ => {}"),
        ("javascript", "describe('a', () => {\n  █\n});\n", "it('b');\n});", "it('b');"),
        ("typescript", "const f = (): void => {\n  █\n};\n", "g();\n};", "g();"),
        ("ruby", "def f\n  if x\n    █\n  end\nend\n", "y\n  end", "y"),
        ("lua", "function f()\n  if x then\n    █\n  end\nend\n", "y()\n  end", "y()"),
        ("python", "def f():\n    █\n\ndef g():\n    pass\n", "return 1\n\ndef g():", "return 1"),
    ],
    ids=[
        "c",
        "java",
        "go-tabs",
        "rust",
        "javascript",
        "typescript",
        "ruby-end",
        "lua-end",
        "python",
    ],
)
def test_a_block_end_the_document_already_has_is_cut(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == expected


@pytest.mark.parametrize(
    ("language_id", "marked", "completion"),
    [
        ("c", "int f(void) {\n  if (x) {\n    █\n  }\n}\n", "if (y) {\n      z();\n    }"),
        ("ruby", "def f\n  if x\n    █\n  end\nend\n", "if y\n      z\n    end"),
        ("go", "func f() {\n\tif x {\n\t\t█\n\t}\n}\n", "s := `\n\t}`"),
        ("javascript", "function f() {\n  █\n}\n", "const s = `\n}`;"),
    ],
    ids=["c-inner-block", "ruby-inner-block", "go-raw-string", "javascript-template-literal"],
)
def test_a_deeper_block_end_or_a_strings_content_is_kept(
    language_id: str, marked: str, completion: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert trim_suffix_overlap(completion, ctx, Mode.MULTI_LINE) == completion


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("rust", "fn f<'a>(x: &'a str) {\n    let r: &'a str = pick(█) * 2;\n", "x) * 2;", "x"),
        ("rust", "fn f() {\n    let n = count(█, '(');\n", "s, '(');", "s"),
        ("go", "func f() {\n\tn := strings.Count(█, `(`)\n", "s, `(`)", "s"),
        ("typescript", "const s = f(█, `(${n}`);\n", "a, `(${n}`);", "a"),
    ],
    ids=["rust-lifetime", "rust-char-literal", "go-raw-string", "typescript-template"],
)
def test_line_overlap_with_each_languages_quotes(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert trim_suffix_overlap(completion, ctx, Mode.SINGLE_LINE) == expected
