from __future__ import annotations

import pytest

from starcoder_ls.text.brackets import (
    first_unmatched_closer,
    fits,
    open_at_cursor,
    open_quote,
    quotes,
)
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "stack"),
    [
        ("x = [f(█", ["[", "("]),
        ("foo(\n    a,\n    bar(█", ["(", "("]),
        ("x = f(a)█", []),
        ("s = '(' + f(█", ["("]),
        ("# it's (\nx = [█", ["["]),
        ("}\n}\nf(█", ["("]),
        ("a = [(]█", []),
    ],
    ids=[
        "one-line",
        "lines-above",
        "closed",
        "bracket-in-string",
        "apostrophe-does-not-cross-lines",
        "stray-closers-from-before",
        "mismatch-closes-down",
    ],
)
def test_open_at_cursor(marked: str, stack: list[str]) -> None:
    assert open_at_cursor(ctx_from(marked)) == stack


@pytest.mark.parametrize(
    ("line_prefix", "quote"),
    [
        ('print("abc', '"'),
        ('print("abc")', None),
        ("x = 'it\\'s", "'"),
        ('s = "a\\\\" + `b', "`"),
        ("""s = "it's" + '""", "'"),
        ("x = (1, 2", None),
    ],
    ids=["open", "closed", "escaped-quote", "escaped-backslash", "other-quote-inside", "none"],
)
def test_open_quote(line_prefix: str, quote: str | None) -> None:
    assert open_quote(line_prefix) == quote


def test_lookbehind_is_bounded() -> None:
    marked = "f(\n" + "x = 1\n" * 100 + "g(█"
    assert open_at_cursor(ctx_from(marked)) == ["("]


@pytest.mark.parametrize(
    ("marked", "text", "index"),
    [("print(█)\n", "x))", 2), ("x = [f(█)]\n", "a]", 1), ("print(█)\n", "x)", None)],
)
def test_first_unmatched_closer(marked: str, text: str, index: int | None) -> None:
    assert first_unmatched_closer(text, ctx_from(marked)) == index


@pytest.mark.parametrize(
    ("marked", "tail", "expected"),
    [
        ('print("█")\n', 'a", "b")', True),
        ('print("█")\n', 'a", "b)', False),
        ("print(█)\n", "x))", False),
    ],
)
def test_fits(marked: str, tail: str, expected: bool) -> None:
    assert fits(tail, ctx_from(marked)) is expected


@pytest.mark.parametrize(
    ("language_id", "line_prefix", "quote"),
    [
        ("rust", "let r: &'a str = pick(", None),
        ("rust", "let c = '\"'; f(", None),
        ("rust", "let s = \"it's", '"'),
        ("python", "x = `a", None),
        ("javascript", "x = `a", "`"),
        ("go", "x := `a", "`"),
        ("c", "c = 'a", "'"),
        ("not-a-language", "x = `a", "`"),
    ],
    ids=[
        "rust-lifetime",
        "rust-char-literal",
        "rust-string",
        "python-backtick",
        "javascript-template",
        "go-raw-string",
        "c-char",
        "unknown-language-all-quotes",
    ],
)
def test_open_quote_in_each_language(language_id: str, line_prefix: str, quote: str | None) -> None:
    assert open_quote(line_prefix, quotes(language_id)) == quote


def test_a_lifetime_hides_no_bracket() -> None:
    ctx = ctx_from("fn f<'a>(x: &'a str) {\n    let r: &'a str = pick(█", language_id="rust")
    assert open_at_cursor(ctx) == ["{", "("]
