"""Completing over the popup's selected item: the context as if it were inserted, and the
suggestion mapped back onto the line as the editor still shows it."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.selection import Selected, apply_selected, over_selection
from starcoder_ls.text.types import Suggestion
from tests.support.cursor import ctx_from


def edit(line: str, suggestion: Suggestion) -> str:
    """The line after the editor applies the suggestion."""
    return line[: suggestion.character] + suggestion.text + line[suggestion.end_character :]


def test_the_context_reads_as_if_the_item_were_inserted() -> None:
    ctx = ctx_from("import os\nx = os.pa█\n")
    sel = Selected(text="path", start=len("x = os."), end=len("x = os.pa"))

    applied = apply_selected(ctx, sel)

    assert applied.prefix == "import os\nx = os.path"
    assert applied.suffix == ctx.suffix == "\n"
    assert applied.character == len("x = os.path")
    assert applied.line_prefix == "x = os.path"


def test_selection_over_text_right_of_the_cursor_removes_it() -> None:
    ctx = ctx_from("x = os.pa█th_old()\n")
    sel = Selected(text="path", start=len("x = os."), end=len("x = os.path_old"))

    applied = apply_selected(ctx, sel)

    assert applied.line_prefix == "x = os.path"
    assert applied.line_suffix == "()"


@pytest.mark.parametrize(
    ("marked", "selected", "suggestion"),
    [
        pytest.param("x = os.pa█\n", ("path", 7, 9), (".join(a, b)", 0), id="extends-the-item"),
        pytest.param("print(sel█)\n", ("selected", 6, 9), (")", 1), id="replaces-a-closer"),
        pytest.param("y = fo█o\n", ("food", 4, 7), (" + 1", 0), id="range-past-the-cursor"),
    ],
)
def test_over_selection_is_the_inverse_of_apply_selected(
    marked: str, selected: tuple[str, int, int], suggestion: tuple[str, int]
) -> None:
    """Inserting the mapped suggestion into the line on screen gives the same line as
    inserting the suggestion into the line with the item already in it."""
    ctx = ctx_from(marked)
    text, start, end = selected
    sel = Selected(text=text, start=start, end=end)
    applied = apply_selected(ctx, sel)
    typed, covered = suggestion
    made = Suggestion(
        text=typed, character=applied.character, end_character=applied.character + covered
    )

    mapped = over_selection(made, sel)

    screen = ctx.line_prefix + ctx.line_suffix
    assert mapped.character == sel.start and mapped.text.startswith(sel.text)
    assert edit(screen, mapped) == edit(applied.line_prefix + applied.line_suffix, made)
