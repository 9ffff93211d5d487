from __future__ import annotations

import pytest

from starcoder_ls.completion.trigger import decide, opens_block
from starcoder_ls.text import syntax
from starcoder_ls.text.types import Mode
from tests.support.cursor import ctx_from


def with_grammar(language_id: str) -> str:
    if syntax.grammar(language_id) is None:
        pytest.skip(f"no tree-sitter grammar installed for {language_id}")
    return language_id


@pytest.mark.parametrize(
    "marked",
    ["fo█o = 1\n", "print(na█me)\n", "x = some_█value\n", "let ü█ber = 1;\n"],
)
def test_inside_a_word_skips(marked: str) -> None:
    assert decide(ctx_from(marked)) is Mode.SKIP


@pytest.mark.parametrize(
    "marked",
    [
        "print(█)\n",
        'x = ["█"]\n',
        "if x█:\n",
        "x = f(a█);\n",
        "foo(█, b)\n",
        "x = █value\n",
        "value█ + 1\n",
        "function f() {█}\n",
    ],
    ids=[
        "paren",
        "quote-bracket",
        "colon",
        "paren-semicolon",
        "real-text",
        "word-right-only",
        "word-left-only",
        "brace-pair",
    ],
)
def test_text_right_of_the_cursor_means_single_line(marked: str) -> None:
    assert decide(ctx_from(marked)) is Mode.SINGLE_LINE


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("def f(x):█\n", "python"),
        ("if (x) {█\n", "javascript"),
        ("items = [█\n", "python"),
        ("call(█\n", "python"),
        ("const f = (x) =>█\n", "typescript"),
        ("def f() ->█\n", "python"),
        ("if x then█\n", "lua"),
        ("items.each do |item|█\n", "ruby"),
        ("for i in 1 2; do█\n", "shellscript"),
        ("} else█\n", "c"),
        ("    case 1:  █\n", "c"),
    ],
)
def test_end_of_a_block_opening_line_means_multi_line(marked: str, language_id: str) -> None:
    assert decide(ctx_from(marked, language_id=language_id)) is Mode.MULTI_LINE


@pytest.mark.parametrize(
    "marked",
    [
        "def f(x):\n    █\n",
        "def f(x):\n\n    █\n",
        "if (x) {\n  █\n}\n",
        "def f(x):  \n█",
    ],
    ids=["indented", "blank-line-between", "braces", "trailing-blank-no-newline"],
)
def test_blank_line_after_a_block_opener_means_multi_line(marked: str) -> None:
    assert decide(ctx_from(marked)) is Mode.MULTI_LINE


@pytest.mark.parametrize(
    "marked",
    [
        "x = 1█\n",
        "x = 1\n█\n",
        "def f():\n    return 1\n█\n",
        "█",
        "std::█\n",
        "p->█\n",
    ],
    ids=[
        "end-of-statement",
        "blank-after-statement",
        "blank-after-body",
        "empty-document",
        "cpp-scope",
        "c-arrow-member",
    ],
)
def test_everything_else_is_single_line(marked: str) -> None:
    assert decide(ctx_from(marked)) is Mode.SINGLE_LINE


def test_without_a_grammar_a_word_ending_in_a_keyword_opens_nothing() -> None:
    assert decide(ctx_from("# todo█\n", language_id="shellscript")) is Mode.SINGLE_LINE


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        ("if x then\n  █\n", Mode.MULTI_LINE),
        ("where\n  █\n", Mode.MULTI_LINE),
        ("x = 1\n█\n", Mode.SINGLE_LINE),
        ("  x = 1\n  █\n  y = 2\n", Mode.SINGLE_LINE),
        ("  x = 1\n█\n", Mode.SINGLE_LINE),
    ],
    ids=["keyword", "indented-by-the-editor", "same-column", "same-indent", "dedented"],
)
def test_without_a_grammar_an_editor_indented_blank_line_means_multi_line(
    marked: str, expected: Mode
) -> None:
    assert decide(ctx_from(marked, language_id="haskell")) is expected


@pytest.mark.parametrize(
    ("marked", "language_id", "expected"),
    [
        ("# compute the to█\n", "python", Mode.SKIP),
        ("x = 1  # see the█\n", "python", Mode.SKIP),
        ("// hi█\n", "rust", Mode.SKIP),
        ("# compute the █\n", "python", Mode.SINGLE_LINE),
        ("# Steps:█\n", "python", Mode.SINGLE_LINE),
        ("/* see █ */\n", "c", Mode.SINGLE_LINE),
    ],
    ids=["mid-word", "after-code", "line-comment", "after-blank", "colon", "block-comment"],
)
def test_in_a_comment_only_complete_between_words_and_one_line(
    marked: str, language_id: str, expected: Mode
) -> None:
    assert decide(ctx_from(marked, language_id=with_grammar(language_id))) is expected


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("x = d[1:█\n", "python"),
        ("f = lambda x:█\n", "python"),
        ('def f():\n    """Args:█\n    """\n', "python"),
        ('def f():\n    """Args:\n    █\n    """\n', "python"),
        ("const s = `line:█\n`;\n", "javascript"),
        ("let x = a ? b :█\n", "javascript"),
    ],
    ids=["slice", "lambda", "docstring", "blank-in-docstring", "template-literal", "ternary"],
)
def test_a_colon_that_opens_no_block_is_single_line(marked: str, language_id: str) -> None:
    assert decide(ctx_from(marked, language_id=with_grammar(language_id))) is Mode.SINGLE_LINE


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("def f(x):  # why\n    █\n", "python"),
        ("def f():\n    # the body\n    █\n", "python"),
        ("if (x) { // note\n  █\n}\n", "typescript"),
        ("switch x {\ncase 1:█\n}\n", "go"),
        ("impl A {\n    fn f(&self) {█\n    }\n}\n", "rust"),
        ("try:█", "python"),
    ],
    ids=["comment-after-header", "comment-line-first", "ts-brace", "go-case", "rust-fn", "try"],
)
def test_a_header_behind_comments_still_opens_a_block(marked: str, language_id: str) -> None:
    assert decide(ctx_from(marked, language_id=with_grammar(language_id))) is Mode.MULTI_LINE


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [("const v = $va█l;\n", "javascript"), ("obj.fie█ld = 1;\n", "typescript")],
)
def test_inside_a_name_the_grammar_knows_skips(marked: str, language_id: str) -> None:
    assert decide(ctx_from(marked, language_id=with_grammar(language_id))) is Mode.SKIP


def test_only_the_nearest_non_blank_line_counts() -> None:
    marked = "def f(x):\n    y = 1\n\n    █\n    return y\n"
    assert decide(ctx_from(marked)) is Mode.SINGLE_LINE


@pytest.mark.parametrize(
    ("marked", "language_id", "expected"),
    [
        ("def f(x):\n    y = 1\n    █\n", "python", Mode.MULTI_LINE),
        ("def f(x):\n    y = 1\n    █\n\ndef g():\n    pass\n", "python", Mode.MULTI_LINE),
        ("fn f() {\n    let y = 1;\n    █\n}\n", "rust", Mode.MULTI_LINE),
        ("  x = 1\n  █\n", "haskell", Mode.MULTI_LINE),
        ("def f(x):\n    y = 1\n    █\n    return y\n", "python", Mode.SINGLE_LINE),
        ("x = 1\n█\n", "python", Mode.SINGLE_LINE),
    ],
    ids=["end-of-file", "next-def-below", "closing-brace", "no-grammar", "block-goes-on", "top"],
)
def test_a_blank_line_at_the_end_of_its_block_means_multi_line(
    marked: str, language_id: str, expected: Mode
) -> None:
    assert decide(ctx_from(marked, language_id=language_id)) is expected


@pytest.mark.parametrize(
    ("marked", "setting", "expected"),
    [
        ("def f(x):█\n", "never", Mode.SINGLE_LINE),
        ("x = 1\n█\n", "always", Mode.MULTI_LINE),
        ("print(█)\n", "always", Mode.SINGLE_LINE),
        ("fo█o = 1\n", "always", Mode.SKIP),
        ("fo█o = 1\n", "never", Mode.SKIP),
    ],
    ids=["never-after-opener", "always-after-statement", "always-text-right", "skip", "skip2"],
)
def test_the_multiline_setting_overrides_the_choice_but_not_a_skip(
    marked: str, setting: str, expected: Mode
) -> None:
    assert decide(ctx_from(marked), multiline=setting) is expected


@pytest.mark.parametrize("line", ["x = {", "while True:", "match x:", "a = b =>", "begin"])
def test_opens_block(line: str) -> None:
    assert opens_block(line)


@pytest.mark.parametrize("line", ["x = {}", "return x", "std::", "a->", "redo", ""])
def test_does_not_open_block(line: str) -> None:
    assert not opens_block(line)


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("for b in brackets:\n    █\n        depth += 1\n", "python"),
        ("def f(xs):\n    █\n        return 1\n", "python"),
        ("  x = 1\n  █\n    y\n", "haskell"),
    ],
    ids=["after-an-opener", "inside-def", "no-grammar"],
)
def test_a_blank_line_above_a_deeper_body_gets_its_header_only(
    marked: str, language_id: str
) -> None:
    assert decide(ctx_from(marked, language_id=language_id)) is Mode.SINGLE_LINE
