from __future__ import annotations

import time

import pytest

from starcoder_ls.cursor.context import (
    ClientPosition,
    PositionError,
    build_context,
    character_to_units,
    detect_indent_unit,
    detect_line_ending,
    offset_at_or_raise,
    path_from_uri,
)

ENCODINGS = ("utf-8", "utf-16", "utf-32")

# Each sample puts "X" after some text; the units are how far "X" is from the line start.
MULTI_BYTE = [
    pytest.param("😀", {"utf-8": 4, "utf-16": 2, "utf-32": 1}, id="emoji"),
    pytest.param("漢字", {"utf-8": 6, "utf-16": 2, "utf-32": 2}, id="cjk"),
    pytest.param("e\u0301", {"utf-8": 3, "utf-16": 2, "utf-32": 2}, id="combining-accent"),
    pytest.param("é", {"utf-8": 2, "utf-16": 1, "utf-32": 1}, id="precomposed-accent"),
    pytest.param("a😀漢é", {"utf-8": 10, "utf-16": 5, "utf-32": 4}, id="mixed"),
]


def build(text: str, line: int, character: int, encoding: str = "utf-16", **kwargs: object):
    return build_context(
        text=text,
        uri="file:///a.py",
        version=3,
        language_id="python",
        position=ClientPosition(line, character, encoding),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("before", "units"), MULTI_BYTE)
def test_cursor_after_multi_byte_text_lands_before_the_next_character(
    before: str, units: dict[str, int], encoding: str
) -> None:
    text = f"first line\ns = '{before}X'\n"
    ctx = build(text, 1, len("s = '") + units[encoding], encoding)
    assert ctx.line_prefix == f"s = '{before}"
    assert ctx.line_suffix == "X'"
    assert ctx.character == len(f"s = '{before}")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("before", "units"), MULTI_BYTE)
def test_character_to_units_inverts_offset_at(
    before: str, units: dict[str, int], encoding: str
) -> None:
    line_text = f"{before}X"
    assert character_to_units(line_text, len(before), encoding) == units[encoding]
    assert offset_at_or_raise(line_text, 0, units[encoding], encoding) == len(before)


def test_crlf_line_endings_count_as_one_break_and_are_normalised() -> None:
    ctx = build("a = 1\r\nb = 2\r\nc = 3\r\n", 1, 3)
    assert ctx.line == 1
    assert ctx.line_prefix == "b ="
    assert ctx.line_suffix == " 2"
    assert ctx.prefix == "a = 1\nb ="
    assert ctx.suffix == " 2\nc = 3\n"


def test_lone_carriage_returns_are_line_breaks() -> None:
    assert offset_at_or_raise("ab\rcd\r\nef\ng", 2, 1, "utf-16") == len("ab\rcd\r\ne")
    assert offset_at_or_raise("ab\rcd\r\nef\ng", 3, 0, "utf-16") == len("ab\rcd\r\nef\n")


def test_line_past_the_end_names_the_document_and_its_length() -> None:
    with pytest.raises(PositionError, match=r"line 3 is past the end of file:///a\.py \(3 lines\)"):
        build("one\ntwo\n", 3, 0)


def test_negative_position_is_rejected() -> None:
    with pytest.raises(PositionError, match="negative"):
        offset_at_or_raise("abc", 0, -1, "utf-16")
    with pytest.raises(PositionError, match="negative"):
        offset_at_or_raise("abc", -1, 0, "utf-16")


def test_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown position encoding 'latin-1'"):
        offset_at_or_raise("abc", 0, 0, "latin-1")


def test_lsprotocol_encoding_members_are_accepted() -> None:
    kinds = pytest.importorskip("lsprotocol.types").PositionEncodingKind
    assert offset_at_or_raise("😀x", 0, 2, kinds.Utf16) == 1
    assert offset_at_or_raise("😀x", 0, 4, kinds.Utf8) == 1


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_character_past_the_line_end_is_clamped_to_the_line_end(encoding: str) -> None:
    ctx = build("x = 1\ny = 2\n", 0, 99, encoding)
    assert ctx.line_prefix == "x = 1"
    assert ctx.line_suffix == ""
    assert ctx.suffix == "\ny = 2\n"


def test_cursor_in_the_middle_of_a_surrogate_pair_moves_before_the_emoji() -> None:
    assert offset_at_or_raise("a😀b", 0, 2, "utf-16") == 1
    assert offset_at_or_raise("a😀b", 0, 3, "utf-16") == 2


@pytest.mark.parametrize("inside", [1, 2, 3])
def test_cursor_inside_a_utf8_sequence_moves_to_its_start(inside: int) -> None:
    assert offset_at_or_raise("a😀b", 0, 1 + inside, "utf-8") == 1
    assert offset_at_or_raise("a漢b", 0, 1 + min(inside, 2), "utf-8") == 1


def test_lone_surrogates_from_the_wire_do_not_crash() -> None:
    assert offset_at_or_raise("a\ud800b", 0, 2, "utf-16") == 2
    assert offset_at_or_raise("a\ud800b", 0, 4, "utf-8") == 2
    assert character_to_units("a\ud800b", 2, "utf-8") == 4


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_empty_document_has_one_empty_line(encoding: str) -> None:
    ctx = build("", 0, 0, encoding)
    assert (ctx.prefix, ctx.suffix, ctx.character) == ("", "", 0)
    with pytest.raises(PositionError, match=r"\(1 lines\)"):
        build("", 1, 0, encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cursor_at_the_very_end_without_trailing_newline(encoding: str) -> None:
    text = "def f():\n    return 😀"
    ctx = build(text, 1, 200, encoding)
    assert ctx.prefix == text
    assert ctx.suffix == ""
    assert ctx.line_prefix == "    return 😀"


def test_line_after_a_trailing_newline_exists_and_is_empty() -> None:
    ctx = build("x = 1\n", 1, 0)
    assert (ctx.prefix, ctx.suffix, ctx.line_prefix) == ("x = 1\n", "", "")


def test_context_carries_request_facts() -> None:
    ctx = build("\tx = 1\n", 0, 1)
    assert (ctx.uri, ctx.version, ctx.language_id, ctx.path) == (
        "file:///a.py",
        3,
        "python",
        "a.py",
    )
    assert ctx.indent_unit == "\t"
    assert ctx.other_documents == ()


def test_explicit_path_wins_over_the_uri() -> None:
    assert build("", 0, 0, path="pkg/a.py").path == "pkg/a.py"


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("file:///home/me/My%20Project/caf%C3%A9.py", "café.py"),
        ("file:///c%3A/Users/me/main.rs", "main.rs"),
        ("untitled:Untitled-1", "Untitled-1"),
        ("file:///", "file:///"),
    ],
)
def test_path_from_uri_is_the_unquoted_file_name(uri: str, name: str) -> None:
    assert path_from_uri(uri) == name


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("def f():\n    if x:\n        return 1\n    return 2\n", "    "),
        ("function f() {\n  if (x) {\n    return 1;\n  }\n}\n", "  "),
        ("func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n", "\t"),
        ("x = 1\ny = 2\n", "    "),
        ("", "    "),
        ("/**\n * Docs.\n * More.\n */\nclass A {\n  a() {}\n}\n", "  "),
    ],
    ids=["four-spaces", "two-spaces", "tabs", "flat", "empty", "block-comment"],
)
def test_detect_indent_unit(text: str, unit: str) -> None:
    assert detect_indent_unit(text) == unit


def test_deep_nesting_votes_for_its_step_not_its_depth() -> None:
    text = "a:\n  b:\n    c:\n      d:\n        e\n"
    assert detect_indent_unit(text) == "  "


def test_detect_line_ending() -> None:
    assert detect_line_ending("a\r\nb\n") == "\r\n"
    assert detect_line_ending("a\nb") == "\n"
    assert detect_line_ending("one line") == "\n"


def test_two_megabyte_document_is_fast() -> None:
    line = "    value = compute(😀, '漢字', other)  # comment\n"
    text = line * (2_000_000 // len(line))
    last = text.count("\n") - 1
    started = time.perf_counter()
    ctx = build(text, last, 12, "utf-16")
    elapsed = time.perf_counter() - started
    assert ctx.line_prefix == "    value = "
    assert elapsed < 0.5, f"build_context took {elapsed:.2f}s on a 2 MB document"
