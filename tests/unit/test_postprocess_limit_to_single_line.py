from __future__ import annotations

import pytest

from starcoder_ls.postprocess.limit_to_single_line import limit_to_single_line
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("def add(a, b):\n    return █\n", "a + b\n\ndef sub(a, b):", "a + b"),
        ("x = █\n", "1\r\ny = 2", "1"),
        ("x = █\n", "1\ry = 2", "1"),
        ("x = █\n", "1", "1"),
        ("x = 1█\n", "\ny = 2", ""),
        ("def f():\n    █\n", "\n\n    return 1\n    x", "    return 1"),
        ("def f():\n    █\n", "\n   \n", ""),
    ],
    ids=[
        "cut-at-newline",
        "crlf",
        "lone-cr",
        "already-one-line",
        "break-after-text",
        "skip-leading-blank-lines-on-blank-line",
        "only-blank-lines",
    ],
)
def test_single_line_mode_keeps_one_line(marked: str, completion: str, expected: str) -> None:
    assert limit_to_single_line(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


def test_blank_lines_are_not_skipped_when_text_follows_the_cursor() -> None:
    ctx = ctx_from("    █foo()\n")
    assert limit_to_single_line("\nbar", ctx, Mode.SINGLE_LINE) == ""


def test_multi_line_mode_is_left_alone() -> None:
    completion = "\n    return 1\n\ndef g():"
    assert limit_to_single_line(completion, ctx_from("def f():█\n"), Mode.MULTI_LINE) == completion


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        ("x = █\n", '"""Summary.\nMore."""', ""),
        ("x = f(█)\n", 'a, """doc\nmore"""', "a,"),
        ("x = █\n", '"a"\ny = 2', '"a"'),
        ('x = """█\n', "Summary.\nMore.", "Summary."),
    ],
    ids=["docstring", "after-arguments", "closed-string", "string-open-before-the-cursor"],
)
def test_a_line_is_never_cut_inside_a_string_it_opened(
    marked: str, completion: str, expected: str
) -> None:
    assert limit_to_single_line(completion, ctx_from(marked), Mode.SINGLE_LINE) == expected


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("javascript", "const msg = █\n", "`Hello ${name},\nwelcome`;", ""),
        ("typescript", "const msg = f(█)\n", "a, `line one\nline two`", "a,"),
        ("go", "query := █\n", "`SELECT *\nFROM t`", ""),
        ("rust", "let s = █\n", '"first line\nsecond";', ""),
        ("java", "String s = █\n", '"""\n    text""";', ""),
        ("c", "char *s = █\n", '"abc\\n"\n  "def";', '"abc\\n"'),
        ("javascript", "const s = █\n", "'a';\nconst t = `b`;", "'a';"),
        ("rust", "fn f<'a>(x: &'a str) -> &'a str {\n    █\n}\n", "x\n}", "x"),
    ],
    ids=[
        "javascript-template-literal",
        "typescript-template-literal-after-arguments",
        "go-raw-string",
        "rust-strings-span-lines",
        "java-text-block",
        "c-strings-end-at-the-line",
        "javascript-closed-quote",
        "rust-lifetimes-are-no-quotes",
    ],
)
def test_strings_that_span_lines_in_each_language(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert limit_to_single_line(completion, ctx, Mode.SINGLE_LINE) == expected
