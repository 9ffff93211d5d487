"""Lines below a line end (completion/line_end.py): a one-line request at the end of a line
shows text that starts on the next line as that line, post-processed where it stands."""

from __future__ import annotations

from starcoder_ls.completion.line_end import below, starts_below
from starcoder_ls.completion.request import locate
from starcoder_ls.text.types import Mode
from tests.support.fake_engine import request_from


def ctx_at(marked: str):
    return locate(request_from(marked))


def test_only_text_starting_on_a_later_line_at_a_line_end() -> None:
    ctx = ctx_at("def add(a, b):\n    total = a + b█\n")
    assert starts_below("\n    return total", ctx, Mode.SINGLE_LINE)
    assert not starts_below(" + c", ctx, Mode.SINGLE_LINE)
    assert not starts_below("\n    return total", ctx, Mode.MULTI_LINE)
    blank = ctx_at("def add(a, b):\n    █\n")
    assert not starts_below("\n    return total", blank, Mode.SINGLE_LINE)
    middle = ctx_at("def add(a, b):\n    total = a█ + b\n")
    assert not starts_below("\n    return total", middle, Mode.SINGLE_LINE)


def test_the_next_line_is_shown_below_the_cursor() -> None:
    ctx = ctx_at("def add(a, b):\n    total = a + b█\n")
    shown = below("\n    return total", ctx, multiline="auto")
    assert shown is not None
    assert shown.text == "\n    return total"
    assert (shown.character, shown.end_character) == (ctx.character, ctx.character)


def test_it_is_post_processed_where_it_stands() -> None:
    """As after Enter: the line the document already has below is not repeated, and
    blanks show nothing."""
    ctx = ctx_at("def add(a, b):\n    total = a + b█\n    return total\n")
    assert below("\n    return total", ctx, multiline="auto") is None
    blank = below("\n    \n", ctx_at("def add(a, b):\n    total = a + b█\n"), multiline="auto")
    assert blank is None
