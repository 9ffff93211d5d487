"""Scoring: exact match, edit similarity, percentiles, and answers that replace closers."""

from __future__ import annotations

import math

import pytest

from starcoder_ls.tools.eval.scoring import (
    Edit,
    apply,
    compared,
    edit_similarity,
    exact_match,
    levenshtein,
    mean,
)
from starcoder_ls.tools.eval.tasks import Task
from starcoder_ls.tools.shared import percentile


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("return x", "return x", 0),
        ("ab", "ba", 2),
    ],
)
def test_levenshtein(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_edit_similarity_is_one_minus_distance_over_the_longer_length() -> None:
    assert edit_similarity("return x", "return x") == 1.0
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("", "abc") == 0.0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)


def test_exact_match_ignores_trailing_blanks_and_blank_lines_at_the_ends_only() -> None:
    assert exact_match("return x  \n\n", "return x")
    assert exact_match("\n  a = 1\n  b = 2", "  a = 1\n  b = 2\n")
    assert not exact_match("return  x", "return x")
    assert not exact_match("a = 1\n\nb = 2", "a = 1\nb = 2")
    assert not exact_match("    return x", "return x")  # indentation is meaning in Python


def task(marked: str, expected: str) -> Task:
    offset = marked.index("|")
    text = marked.replace("|", "")
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return Task(
        task_id="t",
        path="t.py",
        language_id="python",
        text=text,
        line=line,
        column=column,
        expected=expected,
    )


def test_an_answer_that_replaces_an_auto_closed_paren_compares_with_the_paren() -> None:
    t = task("x = 1\nprint(|)\n", "x")
    assert t.offset == 12
    edit = Edit(text="x)", start=t.offset, end=t.offset + 1)
    assert apply(t, edit) == "x = 1\nprint(x)\n"
    answer, expected = compared(t, edit)
    assert exact_match(answer, expected)


def test_an_answer_inserted_before_the_paren_compares_without_it() -> None:
    t = task("print(|)\n", "x")
    answer, expected = compared(t, Edit(text="x", start=t.offset, end=t.offset))
    assert (answer, expected) == ("x", "x")


def test_empty_answer_is_blank_text() -> None:
    assert Edit(text=" \n", start=0, end=0).empty
    assert not Edit(text="x", start=0, end=0).empty


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 1.0) == 10.0
    assert percentile([7.0], 0.9) == 7.0
    assert math.isnan(percentile([], 0.9))


def test_mean() -> None:
    assert mean([1.0, 2.0, 6.0]) == 3.0
    assert math.isnan(mean([]))
