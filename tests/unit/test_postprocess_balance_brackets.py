from __future__ import annotations

import pytest

from starcoder_ls.postprocess.balance_brackets import balance_brackets
from starcoder_ls.text.types import Mode
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


LANGUAGE_LINES = {
    "c": ("int main(void) {\n  printf(█)\n", '"%d", f(x)));'),
    "java": ("class A {\n  void f() {\n    run(█)\n", "g(x)));"),
    "javascript": ("function f() {\n  run(█)\n", "g(x)));"),
    "typescript": ("function f(): void {\n  run(█)\n", "g(x)));"),
    "go": ("func f() {\n\trun(█)\n", "g(x)))"),
    "rust": ("fn f() {\n    run(█)\n", "g(x)));"),
    "python": ("def f():\n    run(█)\n", "g(x)))"),
}


@pytest.mark.parametrize("language_id", sorted(LANGUAGE_LINES))
def test_one_closer_too_many_is_cut_in_every_language(language_id: str) -> None:
    marked, completion = LANGUAGE_LINES[language_id]
    ctx = ctx_from(marked, language_id=language_id)
    assert balance_brackets(completion, ctx, Mode.SINGLE_LINE) == completion[
        : completion.index("))") + 2
    ].rstrip(";")


@pytest.mark.parametrize(
    ("language_id", "marked", "completion", "expected"),
    [
        ("rust", "fn f<'a>(x: &'a str) {\n    let r: &'a str = pick(█)\n", "x, y))", "x, y)"),
        ("rust", "fn f() {\n    let n = count(s, '(', █)\n", "x))", "x)"),
        ("rust", "fn f() {\n    let n = count(s, '\\'', █)\n", "x))", "x)"),
        ("c", "int f(void) {\n    n = count(s, '(', █)\n", "x))", "x)"),
        ("go", "func f() {\n\tn := strings.Count(`(`, █)\n", "x))", "x)"),
        ("javascript", "function f() {\n  s = `(${n}` + f(█)\n", "x))", "x)"),
    ],
    ids=[
        "rust-lifetime-opens-no-string",
        "rust-char-literal-hides-its-bracket",
        "rust-escaped-quote-char",
        "c-char-literal",
        "go-raw-string",
        "javascript-template-literal",
    ],
)
def test_each_languages_quotes(
    language_id: str, marked: str, completion: str, expected: str
) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert balance_brackets(completion, ctx, Mode.SINGLE_LINE) == expected


@pytest.mark.parametrize(
    ("language_id", "marked"),
    [
        ("c", "int f(void) {\n  if (x) {\n    y(█)\n"),
        ("java", "class A {\n  void f() {\n    y(█)\n"),
        ("go", "func f() {\n\tif x {\n\t\ty(█)\n"),
        ("rust", "fn f() {\n    if x {\n        y(█)\n"),
        ("javascript", "items.forEach((item) => {\n  y(█)\n"),
        ("typescript", "const f = (): void => {\n  y(█)\n"),
    ],
)
def test_a_brace_opened_lines_above_may_close(language_id: str, marked: str) -> None:
    ctx = ctx_from(marked, language_id=language_id)
    assert balance_brackets("a) }", ctx, Mode.SINGLE_LINE) == "a) }"
