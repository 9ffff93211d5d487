"""Incremental sync by LSP's rules, checked against a small reference model of those rules
after every step of random edit sequences."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from starcoder_ls.cursor import documents
from starcoder_ls.cursor.context import PositionError, offset_at_or_raise
from starcoder_ls.lsp.workspace import SyncedWorkspace

EXAMPLES = int(os.environ.get("STARCODER_FUZZ_EXAMPLES", "120"))
"""Edit sequences per property; `make fuzz` raises it for a long run."""
ENCODINGS = ("utf-8", "utf-16", "utf-32")


# -- the reference model: code points, LSP line breaks, units per code point --------------


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    return len(ch.encode("utf-8", "surrogatepass"))


def _model_lines(text: str) -> list[tuple[int, int]]:
    """(start, end of content) of every line; only \\n, \\r\\n and \\r end one."""
    lines, start, i = [], 0, 0
    while i < len(text):
        if text[i] in "\r\n":
            lines.append((start, i))
            i += 2 if text[i : i + 2] == "\r\n" else 1
            start = i
        else:
            i += 1
    lines.append((start, len(text)))
    return lines


def model_offset(text: str, line: int, character: int, encoding: str) -> int:
    lines = _model_lines(text)
    if line >= len(lines):
        return len(text)
    start, end = lines[line]
    index, used = start, 0
    while index < end and used + _units(text[index], encoding) <= character:
        used += _units(text[index], encoding)
        index += 1
    return index


def canonical(text: str) -> str:
    """Adjacent surrogate halves as one character, as JSON delivers them in one string."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _model_units_offset(units: list[int], line: int, character: int) -> int:
    """UTF-16 as an editor holds it: code units; a cut inside a pair moves before it."""
    starts, i = [0], 0
    while i < len(units):
        if units[i] in (0x0A, 0x0D):
            i += 2 if units[i : i + 2] == [0x0D, 0x0A] else 1
            starts.append(i)
        else:
            i += 1
    if line >= len(starts):
        return len(units)
    start = starts[line]
    end = start
    while end < len(units) and units[end] not in (0x0A, 0x0D):
        end += 1
    index = min(start + character, end)
    inside_a_pair = start < index < end and 0xDC00 <= units[index] <= 0xDFFF
    if inside_a_pair and 0xD800 <= units[index - 1] <= 0xDBFF:
        index -= 1
    return index


def model_edit(text: str, start: tuple[int, int], end: tuple[int, int], new: str, enc: str):
    if enc == "utf-16":
        data = text.encode("utf-16-le", "surrogatepass")
        units = [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]
        a, b = _model_units_offset(units, *start), _model_units_offset(units, *end)
        a, b = min(a, b), max(a, b)
        inserted = new.encode("utf-16-le", "surrogatepass")
        data = data[: 2 * a] + inserted + data[2 * b :]
        return data.decode("utf-16-le", "surrogatepass")
    a, b = model_offset(text, *start, enc), model_offset(text, *end, enc)
    a, b = min(a, b), max(a, b)
    return canonical(text[:a] + new + text[b:])


# -- examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "new", "expected"),
    [
        ("abc", (0, 10), (0, 10), "X", "abcX"),  # pygls: "abXc"
        ("abc\r\ndef", (0, 4), (0, 4), "X", "abcX\r\ndef"),  # pygls: between \r and \n
        ("abc\r\ndef", (0, 3), (0, 9), "", "abc\r\ndef"),
        ("abc\r\ndef", (0, 9), (1, 0), "", "abcdef"),
        ("a\fb\nc", (1, 0), (1, 0), "X", "a\fb\nXc"),  # \f is no line break
        ("a\x85b\u2028c\nd", (1, 1), (1, 1), "X", "a\x85b\u2028c\ndX"),
        ("a\x1cb\vc\u2029d\ne", (0, 20), (1, 0), "", "a\x1cb\vc\u2029de"),
        ("a\rb\nc", (2, 0), (2, 0), "X", "a\rb\nXc"),  # a lone \r ends a line
        ("x\n", (5, 0), (7, 3), "tail", "x\ntail"),  # past the last line: the end
        ("abcdef", (0, 4), (0, 1), "", "aef"),  # reversed range
        ("", (0, 0), (0, 0), "hello", "hello"),
    ],
)
def test_edits_follow_lsp_rules(
    text: str, start: tuple[int, int], end: tuple[int, int], new: str, expected: str
) -> None:
    for encoding in ENCODINGS:
        assert documents.apply_edit(text, start, end, new, encoding) == expected


@pytest.mark.parametrize(
    ("encoding", "character", "expected"),
    [
        ("utf-16", 1, "X😀b"),  # inside the surrogate pair: before it
        ("utf-16", 2, "😀Xb"),
        ("utf-8", 3, "X😀b"),  # inside the 4-byte sequence
        ("utf-8", 4, "😀Xb"),
        ("utf-32", 1, "😀Xb"),
    ],
)
def test_a_position_inside_a_code_point_rounds_down(
    encoding: str, character: int, expected: str
) -> None:
    assert documents.apply_edit("😀b", (0, character), (0, character), "X", encoding) == expected


def test_surrogate_halves_sent_in_two_edits_make_one_character() -> None:
    text = documents.apply_edit("ab", (0, 1), (0, 1), "\ud83d", "utf-16")
    assert documents.apply_edit(text, (0, 2), (0, 2), "\ude00", "utf-16") == "a😀b"
    text = documents.apply_edit("a\ude00b", (0, 1), (0, 1), "\ud83d", "utf-16")
    assert text == "a😀b"


def test_lone_surrogates_are_kept_as_the_editor_has_them() -> None:
    text = "a\ud800b\udc00"
    assert documents.apply_edit(text, (0, 2), (0, 2), "X", "utf-16") == "a\ud800Xb\udc00"
    assert documents.apply_edit(text, (0, 4), (0, 4), "X", "utf-8") == "a\ud800Xb\udc00"


def test_line_start_across_blocks_and_crlf_at_a_block_edge() -> None:
    block = documents._BLOCK
    text = "a" * (block - 1) + "\r\n" + "b\n" * 3
    assert documents.line_start(text, 1) == block + 1
    assert documents.line_start(text, 4) == len(text)
    assert documents.line_start(text, 5) is None
    lf_only = ("x" * 99 + "\n") * 2000
    assert documents.line_start(lf_only, 1500) == 1500 * 100
    assert documents.line_start(lf_only, 2001) is None


def test_the_pygls_workspace_applies_edits_by_these_rules() -> None:
    workspace = SyncedWorkspace(None, position_encoding=types.PositionEncodingKind.Utf16)
    uri = "file:///w/a.py"
    workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text="abc\r\nd\fe")
    )
    for version, (line, character) in enumerate([(0, 10), (1, 10)], start=2):
        position = types.Position(line=line, character=character)
        workspace.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            types.TextDocumentContentChangePartial(
                range=types.Range(start=position, end=position), text="X"
            ),
        )
    document = workspace.get_text_document(uri)
    assert document.source == "abcX\r\nd\feX"
    assert document.version == 3
    assert document.lines == ("abcX\r\n", "d\feX")


# -- properties ----------------------------------------------------------------------------

pieces = st.sampled_from(
    ["a", "b", " ", "\t", "\n", "\r", "\r\n", "\f", "\v", "\x1c", "\x85", "\u2028", "\u2029"]
    + ["é", "漢", "😀", "𝄞", "\ud800", "\udc00", "e\u0301"]
)
texts = st.lists(pieces, max_size=24).map("".join)
positions = st.tuples(st.integers(0, 8), st.integers(0, 12))
edits = st.lists(st.tuples(positions, positions, texts), min_size=1, max_size=12)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, edits, st.sampled_from(ENCODINGS))
def test_random_edit_sequences_match_the_reference_model(
    text: str, steps: list, encoding: str
) -> None:
    text = canonical(text)
    for start, end, new in steps:
        expected = model_edit(text, start, end, new, encoding)
        text = documents.apply_edit(text, start, end, new, encoding)
        assert text == expected


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, edits, st.sampled_from(ENCODINGS))
def test_random_edit_sequences_through_the_pygls_workspace(
    text: str, steps: list, encoding: str
) -> None:
    workspace = SyncedWorkspace(None, position_encoding=encoding)
    uri = "file:///w/fuzz.py"
    text = canonical(text)
    workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=0, text=text)
    )
    for version, (start, end, new) in enumerate(steps, start=1):
        text = model_edit(text, start, end, new, encoding)
        workspace.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            types.TextDocumentContentChangePartial(
                range=types.Range(
                    start=types.Position(line=start[0], character=start[1]),
                    end=types.Position(line=end[0], character=end[1]),
                ),
                text=new,
            ),
        )
        assert workspace.get_text_document(uri).source == text


@settings(max_examples=EXAMPLES, deadline=None)
@given(texts, positions, st.sampled_from(ENCODINGS))
def test_edits_and_the_completion_cursor_round_the_same_way(
    text: str, position: tuple[int, int], encoding: str
) -> None:
    line, character = position
    try:
        cursor = offset_at_or_raise(text, line, character, encoding)
    except PositionError:
        assert line >= len(_model_lines(text))
        return
    assert documents.clamped_offset_at(text, line, character, encoding) == cursor


def test_the_encoding_name_of_lsprotocol_kinds_with_utf16_by_default() -> None:
    kinds = types.PositionEncodingKind
    assert documents.encoding_name(kinds.Utf8) == "utf-8"
    assert documents.encoding_name(kinds.Utf16) == "utf-16"
    assert documents.encoding_name("utf-32") == "utf-32"
    assert documents.encoding_name(None) == documents.encoding_name("latin-1") == "utf-16"
