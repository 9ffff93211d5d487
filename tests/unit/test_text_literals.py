from __future__ import annotations

import pytest

from starcoder_ls.text.literals import comment_spans, inside_string, string_spans
from tests.support.cursor import ctx_from


@pytest.mark.parametrize(
    ("marked", "language_id", "text", "spans"),
    [
        ("x = █\n", "python", '"a" + b', [(0, 3)]),
        ("x = █\n", "python", '"""a\nb""" + c', [(0, 9)]),
        ("x = █\n", "python", "'a\nb'", [(0, 2), (4, 5)]),
        ("x = █\n", "python", "1  # it's fine\ny = 'b'", [(19, 22)]),
        ('x = "█"\n', "python", 'ab" + "c', [(-1, 3), (6, 8)]),
        ("f(█)\n", "javascript", "`a\n${b}\nc`)", [(0, 10)]),
        ("f(█)\n", "javascript", '/* "a */ "b"', [(9, 12)]),
        ("x := █\n", "go", "`a\\`", [(0, 4)]),
        ("let s = █\n", "rust", '"a\nb"; let r: &\'a str', [(0, 5)]),
        ("x = █\n", "python", '"a\\"b"', [(0, 6)]),
        ("let c = █\n", "rust", "'\"'; f::<'a>(\"x\")", [(0, 3), (13, 16)]),
    ],
    ids=[
        "one-string",
        "triple-quoted",
        "quote-ends-at-line-break",
        "apostrophe-in-comment",
        "open-at-cursor",
        "template-literal",
        "block-comment",
        "go-raw-string",
        "rust-multi-line-and-lifetime",
        "escaped-quote",
        "rust-char-literal-and-lifetime",
    ],
)
def test_string_spans(
    marked: str, language_id: str, text: str, spans: list[tuple[int, int]]
) -> None:
    assert string_spans(text, ctx_from(marked, language_id=language_id)) == spans


def test_a_docstring_open_at_the_cursor_is_found_by_the_parser() -> None:
    ctx = ctx_from('def f():\n    """Summary.\n    █\n    """\n')
    spans = string_spans('More.\n"""\nreturn 1', ctx)
    assert spans == [(-1, 9)]
    assert inside_string(spans, 6) and not inside_string(spans, 10)


def test_a_cut_at_either_end_of_a_string_is_outside_it() -> None:
    spans = [(2, 7)]
    assert not inside_string(spans, 2)
    assert inside_string(spans, 3)
    assert not inside_string(spans, 7)


@pytest.mark.parametrize(
    ("language_id", "text", "spans"),
    [
        ("python", "x = '#'  # hash", [(9, 15)]),
        ("javascript", 'u = "http://a"; // b', [(16, 20)]),
        ("c", "a /* b */ c // d\ne", [(2, 9), (12, 16)]),
        ("lua", "x = 1 -- one", [(6, 12)]),
        ("css", "a { } /* b */", [(6, 13)]),
        ("rust", "let c = '\"'; // q", [(13, 17)]),
    ],
    ids=[
        "python",
        "javascript",
        "c-block-and-line",
        "lua",
        "css-block-only",
        "rust-char-literal-quote",
    ],
)
def test_comment_spans(language_id: str, text: str, spans: list[tuple[int, int]]) -> None:
    assert comment_spans(text, language_id) == spans
