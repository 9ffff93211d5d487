from __future__ import annotations

import pytest

from starcoder_ls.postprocess.drop_duplicated_suffix import drop_duplicated_suffix
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


def drop(marked: str, completion: str, language_id: str = "python") -> str | None:
    ctx = ctx_from(marked, language_id=language_id)
    return drop_duplicated_suffix(completion, ctx, Mode.SINGLE_LINE)


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
        ("def f(x):\n    █\n    total = compute(a, b)\n", "total = compute(a, b)  # the sum"),
        ("def f(x):\n    █\n    total = compute(a, b)  # the sum\n", "total = compute(a, b)"),
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
        "added-comment",
        "comment-left-out",
    ],
)
def test_completions_that_only_repeat_what_follows_are_dropped(
    marked: str, completion: str
) -> None:
    assert drop(marked, completion) is None


@pytest.mark.parametrize(
    ("marked", "completion"),
    [
        ("foo(█x, y)\n", "w, "),
        ("def f(x):\n    █\n    return x\n", "x += 1"),
        ("def f(x):\n    █\n    return x\n", "return y"),
        ("if (x) {\n  █\n  y();\n}\n", "y();\n  z();"),
        ("def f(x):\n    █", "return x"),
        ("x = █\n", ""),
        ("def f(x):\n    █\n    total = compute(a, b)\n", "total = compute(a, c)"),
        ("def f(x):\n    █\n    ab = 1\n", "a b = 1"),
        ("def f():\n    █\n    # the width\n", "# the height"),
    ],
    ids=[
        "new-text-before-suffix",
        "new-line",
        "other-name",
        "repeat-then-new",
        "end-of-document",
        "empty",
        "one-name-off-in-a-long-line",
        "space-between-words-is-not-layout",
        "comment-lines-compare-by-their-words",
    ],
)
def test_completions_with_something_new_are_kept(marked: str, completion: str) -> None:
    assert drop(marked, completion) == completion


@pytest.mark.parametrize(
    ("language_id", "marked", "completion"),
    [
        (
            "typescript",
            "    cell.f█\n    cell.bg = this._curAttrData.bg;\n",
            "g = this._curAttrData.fg;",
        ),
        ("c", "    val += data[i] << █\n    val += data[i+1] << 16;\n", "8;"),
        (
            "c",
            "    value |= (uint32_t)buffer[offset + 1] << █\n"
            "    value |= (uint32_t)buffer[offset + 2] << 16;\n",
            "8;",
        ),
        ("go", "type Config struct {\n\thttp█\n\thttpsAddr string\n}\n", "Addr  string"),
        (
            "javascript",
            "  bounds.x1 = Math.min(bounds.x1, █\n  bounds.y1 = Math.min(bounds.y1, point.y);\n",
            "point.x);",
        ),
        (
            "python",
            '    parser.add_argument("--█\n'
            '    parser.add_argument("--input-dir", type=str, required=True)\n',
            'input-file", type=str, required=True)',
        ),
        (
            "java",
            "        result = 31 * result + █\n        result = 31 * result + field2.hashCode();\n",
            "field1.hashCode();",
        ),
        (
            "rust",
            "    buffer[offset + 0] = (value >> █\n    buffer[offset + 1] = (value >> 16) as u8;\n",
            "24) as u8;",
        ),
        (
            "javascript",
            '  █\n  const url = "http://example.com";\n',
            'const url = "http://example.org";',
        ),
        ("python", '    █\n    color = "#fff"\n', 'color = "#000"'),
        (
            "c",
            "    0,                          /* tp_set█\n"
            "    0,                          /* tp_as_buffer */\n",
            "attro    */",
        ),
    ],
    ids=[
        "typescript-fg-above-bg",
        "c-shift-8-above-16",
        "c-shift-8-above-16-long",
        "go-http-above-https",
        "javascript-x1-above-y1",
        "python-file-above-dir",
        "java-field1-above-field2",
        "rust-byte-0-above-byte-1",
        "javascript-slashes-in-a-string-are-not-a-comment",
        "python-hash-in-a-string-is-not-a-comment",
        "c-slots-told-apart-by-their-comments",
    ],
)
def test_parallel_lines_are_kept_in_every_language(
    language_id: str, marked: str, completion: str
) -> None:
    assert drop(marked, completion, language_id) == completion


@pytest.mark.parametrize(
    ("language_id", "marked", "completion"),
    [
        (
            "typescript",
            "    cell.f█\n    cell.fg = this._curAttrData.fg;\n",
            "g = this._curAttrData.fg",
        ),
        ("c", "    val += █\n    val += data[i] << 8;  /* low byte */\n", "data[i] <<8;"),
        (
            "go",
            "type Config struct {\n\t█\n\thttpAddr string // where to listen\n}\n",
            "httpAddr  string",
        ),
        (
            "javascript",
            '  █\n  const url = "http://example.com";\n',
            'const url = "http://example.com"',
        ),
        ("python", '    █\n    color = "#fff"\n', 'color = "#fff"  # white'),
        ("java", "        █\n        return this.name;\n", "return this.name; // the name"),
        ("rust", "    █\n    let r: &'a str = pick(x, y);\n", "let r: &'a str = pick(x,y);"),
        ("lua", "  █\n  local x = 1 -- one\n", "local x = 1"),
        ("rust", "    if done {\n        █\n    }\n}\n", "}\n}"),
    ],
    ids=[
        "typescript-no-semicolon",
        "c-other-spacing-and-block-comment",
        "go-aligned-and-comment",
        "javascript-no-semicolon",
        "python-hash-comment",
        "java-line-comment",
        "rust-lifetime-and-spacing",
        "lua-dash-comment",
        "rust-closers-below",
    ],
)
def test_copies_are_dropped_in_every_language(
    language_id: str, marked: str, completion: str
) -> None:
    assert drop(marked, completion, language_id) is None
