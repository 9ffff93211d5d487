from __future__ import annotations

import pytest

from starcoder_ls.text import syntax
from tests.support.cursor import ctx_from

LANGUAGES = ["python", "javascript", "typescript", "typescriptreact", "rust", "go", "java", "c"]


def parse(marked: str, language_id: str = "python", **kwargs: object) -> syntax.CursorSyntax:
    if syntax.grammar(language_id) is None:
        pytest.skip(f"no tree-sitter grammar installed for {language_id}")
    tree = syntax.at_cursor(ctx_from(marked, language_id=language_id, **kwargs))
    assert tree is not None
    return tree


@pytest.mark.parametrize("language_id", LANGUAGES)
def test_each_mapped_language_has_a_grammar(language_id: str) -> None:
    pytest.importorskip("tree_sitter")
    assert syntax.grammar(language_id) is not None


@pytest.mark.parametrize("language_id", ["lua", "plaintext", "not-a-language"])
def test_languages_without_a_grammar_fall_back(language_id: str) -> None:
    assert syntax.at_cursor(ctx_from("x = 1█\n", language_id=language_id)) is None


@pytest.mark.parametrize(
    ("marked", "language_id", "expected"),
    [
        ("# todo█\n", "python", True),
        ("x = 1  # note: █\n", "python", True),
        ("█# todo\n", "python", False),
        ("x = 1█  # note\n", "python", False),
        ("// hi█\n", "rust", True),
        ("/* see █ */\n", "c", True),
        ("/* done */█\n", "c", False),
        ('s = "# not a comment█"\n', "python", False),
    ],
)
def test_in_comment(marked: str, language_id: str, expected: bool) -> None:
    assert parse(marked, language_id).in_comment is expected


@pytest.mark.parametrize(
    ("marked", "language_id", "delimiter"),
    [
        ('print("hel█lo")\n', "python", '"'),
        ('def f():\n    """Args:█\n    """\n', "python", '"""'),
        ('x = f"{a}█"\n', "python", '"'),
        ("const s = `line █\n`;\n", "javascript", "`"),
        ("const s = `${na█me}`;\n", "javascript", None),
        ('let s = "abc█";\n', "rust", '"'),
        ('print("hi")█\n', "python", None),
        ("x = 1█\n", "python", None),
    ],
)
def test_string_delimiter(marked: str, language_id: str, delimiter: str | None) -> None:
    tree = parse(marked, language_id)
    assert tree.string_delimiter == delimiter
    assert tree.in_string is (delimiter is not None)


@pytest.mark.parametrize(
    ("marked", "language_id", "expected"),
    [
        ("x = some_va█lue\n", "python", True),
        ("const x = $fo█o;\n", "javascript", True),
        ("obj.fie█ld = 1;\n", "javascript", True),
        ("value█ + 1\n", "python", False),
        ("x = █value\n", "python", False),
    ],
)
def test_in_identifier(marked: str, language_id: str, expected: bool) -> None:
    assert parse(marked, language_id).in_identifier is expected


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("def f(x):█\n", "python"),
        ("try:█", "python"),
        ("if x:\n    pass\nelse:█\n", "python"),
        ("match x:\n    case 1:█\n", "python"),
        ("def f(x):  # why\n    █\n", "python"),
        ("if (x) { // note\n  █\n}\n", "javascript"),
        ("switch x {\ncase 1:█\n}\n", "go"),
        ("switch (x) {\n    case 1:  █\n}\n", "c"),
        ("fn f() {█\n}\n", "rust"),
        ("public class A {\n    void f() {█\n    }\n}\n", "java"),
        ("call(█\n", "python"),
    ],
)
def test_block_headers(marked: str, language_id: str) -> None:
    assert parse(marked, language_id).block_header().opens is True


@pytest.mark.parametrize(
    ("marked", "language_id"),
    [
        ("x = d[1:█\n", "python"),
        ("f = lambda x:█\n", "python"),
        ("# steps:█\n", "python"),
        ('def f():\n    """Args:\n    █\n    """\n', "python"),
        ("let x = a ? b :█\n", "javascript"),
        ("x = 1\n\n█\n", "python"),
        ("█", "python"),
    ],
)
def test_colons_and_brackets_that_open_nothing(marked: str, language_id: str) -> None:
    assert parse(marked, language_id).block_header().opens is False


def test_unknown_tokens_leave_the_decision_to_the_caller_with_the_code_line() -> None:
    header = parse("const f = (x) =>  // arrow\n  █\n", "javascript").block_header()
    assert header == syntax.BlockHeader(line="const f = (x) =>", opens=None)


def test_one_parse_serves_every_question_about_one_version() -> None:
    first = parse("def f(x):\n    █\n", uri="file:///cache-a.py", version=7)
    again = parse("def f(x):\n    █\n", uri="file:///cache-a.py", version=7)
    assert first._root.id == again._root.id


def test_a_new_version_or_new_text_is_parsed_again() -> None:
    first = parse("x = 1█\n", uri="file:///cache-b.py", version=1)
    newer = parse("x = 1█\n", uri="file:///cache-b.py", version=2)
    edited = parse("y = 2█\n", uri="file:///cache-b.py", version=2)
    assert first._root.id != newer._root.id
    assert not edited.in_comment and edited._root.text.startswith(b"y = 2")


def test_a_huge_document_is_parsed_in_a_window_around_the_cursor() -> None:
    body = "def f(x):\n    return x\n\n" * 20_000
    tree = parse(body + "def g(y):█\n" + body, uri="file:///huge.py")
    assert tree.block_header().opens is True
    lines = tree._root.text.count(b"\n")
    assert lines <= 2 * syntax.WINDOW_LINES + 2


def test_the_window_keeps_whole_lines_and_the_cursor() -> None:
    prefix = "a\n" * 5000 + "b = "
    before, after = syntax._window(prefix, "1\n" + "c\n" * 5000)
    assert before.startswith("a\n") and before.endswith("b = ")
    assert before.count("\n") == syntax.WINDOW_LINES
    assert after.startswith("1\n") and after.count("\n") == syntax.WINDOW_LINES + 1


def test_a_window_on_one_giant_line_is_cut_by_characters() -> None:
    before, after = syntax._window("x" * 500_000, "y" * 500_000)
    assert len(before) == len(after) == syntax.WINDOW_CHARS
