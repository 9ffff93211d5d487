from __future__ import annotations

import pytest

from starcoder_ls.text.similarity import code_tokens, same_code


@pytest.mark.parametrize(
    ("first", "second", "language_id"),
    [
        ("foo(a, b)", "foo(a,b)", "python"),
        ("return x", "return x;", "c"),
        ("y();\n}", "  y();\n}", "javascript"),
        ("x = 1  # one", "x = 1", "python"),
        ("x := 1 // one", "x := 1", "go"),
        ("x = 1; /* one */", "x = 1", "java"),
        ("local x = 1 -- one", "local x = 1", "lua"),
        ("a +=  1", "a += 1", "rust"),
    ],
    ids=["spacing", "semicolon", "indentation", "hash", "slashes", "block", "dashes", "operator"],
)
def test_same_code_ignores_layout_and_trailing_comments(
    first: str, second: str, language_id: str
) -> None:
    assert same_code(first, second, language_id)


@pytest.mark.parametrize(
    ("first", "second", "language_id"),
    [
        ("cell.fg = this._curAttrData.fg;", "cell.bg = this._curAttrData.bg;", "typescript"),
        ("val += data[i] << 8;", "val += data[i+1] << 16;", "c"),
        ("httpAddr  string", "httpsAddr string", "go"),
        ("ab = 1", "a b = 1", "python"),
        ('u = "http://a"', 'u = "http://b"', "javascript"),
        ("# the width", "# the height", "python"),
        ("x = 1", "# x = 1", "python"),
        ("0,  /* tp_setattro */", "0,  /* tp_as_buffer */", "c"),
        ("x = 1  # one", "x = 1  # two", "python"),
    ],
    ids=[
        "one-name",
        "one-number-and-index",
        "one-letter",
        "space-between-words",
        "slashes-in-a-string",
        "comment-lines",
        "commented-out",
        "other-comments-after-the-same-code",
        "other-hash-comments",
    ],
)
def test_same_code_tells_parallel_lines_apart(first: str, second: str, language_id: str) -> None:
    assert not same_code(first, second, language_id)


def test_code_tokens_split_words_from_operators() -> None:
    assert code_tokens("val += data[i] << 8;  // low", "c") == [
        "val",
        "+",
        "=",
        "data",
        "[",
        "i",
        "]",
        "<",
        "<",
        "8",
    ]
