"""LSP positions in and out: the popup's selection, ranges and the document's line endings."""

from __future__ import annotations

from lsprotocol import types

from starcoder_ls.completion.selection import Selected
from starcoder_ls.lsp import conversions
from starcoder_ls.text.types import Suggestion
from tests.support.cursor import ctx_from


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def info(text: str, start: types.Position, end: types.Position) -> types.SelectedCompletionInfo:
    return types.SelectedCompletionInfo(range=types.Range(start=start, end=end), text=text)


def test_the_selection_is_read_in_the_negotiated_encoding() -> None:
    text = "x = 1\nπ = '😀'.sp\n"
    cursor = pos(1, len("π = '😀'.sp") + 1)  # utf-16: the emoji is two units
    chosen = info("split", pos(1, len("π = '😀'.") + 1), cursor)

    assert conversions.selected(chosen, cursor, text, "utf-16") == Selected(
        text="split", start=len("π = '😀'."), end=len("π = '😀'.sp")
    )


def test_a_selection_on_another_line_is_ignored() -> None:
    chosen = info("split", pos(0, 0), pos(0, 1))
    assert conversions.selected(chosen, pos(1, 2), "x\nab\n", "utf-16") is None
    assert conversions.selected(None, pos(1, 2), "x\nab\n", "utf-16") is None


def test_ranges_count_code_units_of_the_cursor_line() -> None:
    ctx = ctx_from("s = '😀'.█\n")
    suggestion = Suggestion(text="upper()", character=ctx.character, end_character=ctx.character)

    assert conversions.lsp_range(ctx, suggestion, "utf-16") == types.Range(
        start=pos(0, 9), end=pos(0, 9)
    )
    assert conversions.lsp_range(ctx, suggestion, "utf-8") == types.Range(
        start=pos(0, 11), end=pos(0, 11)
    )


def test_suggestions_take_the_document_line_ending() -> None:
    found = [Suggestion(text="a\n    b", character=0, end_character=0)]
    assert conversions.with_line_endings(found, "x\r\ny\r\n")[0].text == "a\r\n    b"
    assert conversions.with_line_endings(found, "x\ny\n") == found


def test_a_popup_item_starts_at_the_word_being_typed() -> None:
    ctx = ctx_from("total = su█\n")
    suggestion = Suggestion(text="m(xs)", character=ctx.character, end_character=ctx.character)

    item = conversions.completion_item(ctx, suggestion, "fake", 0, "utf-16")

    assert item.label == "sum(xs)" and item.filter_text == "sum(xs)"
    assert item.text_edit == types.TextEdit(
        range=types.Range(start=pos(0, 8), end=pos(0, 10)), new_text="sum(xs)"
    )


def test_popup_documentation_is_plain_text_for_clients_without_markdown() -> None:
    ctx = ctx_from("x = fo█\n")
    suggestion = Suggestion(text="o(1)", character=ctx.character, end_character=ctx.character)
    plain = conversions.completion_item(ctx, suggestion, "m", 0, "utf-16", markdown=False)
    fenced = conversions.completion_item(ctx, suggestion, "m", 0, "utf-16")
    assert plain.documentation is not None and fenced.documentation is not None
    assert plain.documentation.kind == types.MarkupKind.PlainText
    assert plain.documentation.value == "foo(1)"
    assert fenced.documentation.kind == types.MarkupKind.Markdown
    assert "```python\nfoo(1)\n```" in fenced.documentation.value


def test_the_lines_below_a_line_end_are_ghost_text_only() -> None:
    ctx = ctx_from("total = a + b█\n")
    at = ctx.character
    same_line = Suggestion(text="  # sum", character=at, end_character=at)
    below = Suggestion(text="\nreturn total", character=at, end_character=at)
    inline = conversions.inline_list(ctx, [below, same_line], "utf-16", ctx.uri)
    assert [item.insert_text for item in inline.items] == ["\nreturn total", "  # sum"]
    popup = conversions.completion_list(ctx, [below, same_line], "utf-16", "m")
    assert [item.text_edit.new_text for item in popup.items] == ["b  # sum"]
