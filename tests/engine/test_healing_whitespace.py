"""Blanks at the cursor: healing that keeps their width or leaves indentation alone, and
the ban on a first token that breaks a one-line completion's line. Fake tokenizer only."""

from __future__ import annotations

import pytest
import torch

from starcoder_ls.engine.healing import (
    HealingProcessor,
    NoLeadingLineBreak,
    Vocabulary,
    is_indentation,
    split_last_token,
)

PIECES = [
    "<|endoftext|>",
    "x",
    "a",
    "return",
    " ",
    "  ",
    "   ",
    "    ",
    "        ",
    "    \n",
    " return",
    " x",
    "\n",
    "\n\n",
    "\n    ",
    " \n",
    ")\n",
    "=",
    "\t",
]


class Tokenizer:
    """Greedy longest match over `PIECES`; the slice of the transformers API used here."""

    all_special_ids = [0]
    added_tokens_decoder: dict[int, object] = {}

    def __len__(self) -> int:
        return len(PIECES)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        found: list[int] = []
        while text:
            best = max(
                (i for i, piece in enumerate(PIECES) if i and text.startswith(piece)),
                key=lambda i: len(PIECES[i]),
            )
            found.append(best)
            text = text[len(PIECES[best]) :]
        return found

    def decode(self, ids: list[int], skip_special_tokens: bool = False, **kwargs: object) -> str:
        return "".join(PIECES[i] for i in ids if not (skip_special_tokens and i == 0))

    def batch_decode(self, rows: list[list[int]], **kwargs: object) -> list[str]:
        return [self.decode(row, **kwargs) for row in rows]  # type: ignore[arg-type]


@pytest.fixture
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.fixture
def vocab(tokenizer: Tokenizer) -> Vocabulary:
    return Vocabulary(tokenizer)


def ids(*pieces: str) -> list[int]:
    return [PIECES.index(piece) for piece in pieces]


def finite(scores: torch.Tensor) -> set[str]:
    return {PIECES[i] for i in torch.isfinite(scores).nonzero().flatten().tolist()}


# -- where healing stops ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "removed", "expected"),
    [
        pytest.param("if x:\n", "    ", True, id="blanks-starting-a-line"),
        pytest.param("if x:", "\n    ", True, id="line-break-and-blanks"),
        pytest.param("", "    ", True, id="start-of-text"),
        pytest.param("return", " ", False, id="space-after-a-word"),
        pytest.param("x", "=", False, id="not-blank"),
    ],
)
def test_what_counts_as_indentation(head: str, removed: str, expected: bool) -> None:
    assert is_indentation(head, removed) is expected


def test_skip_leaves_a_last_token_of_indentation_in_the_prompt(tokenizer, vocab) -> None:
    prompt = ids("x", ")\n", "    ")

    assert split_last_token(tokenizer, vocab, prompt) == (prompt[:-1], "    ")
    assert split_last_token(tokenizer, vocab, prompt, indentation="keep") == (prompt[:-1], "    ")
    assert split_last_token(tokenizer, vocab, prompt, indentation="skip") == (prompt, "")


def test_skip_still_heals_a_space_after_a_word(tokenizer, vocab) -> None:
    prompt = ids("x", "return", " ")

    assert split_last_token(tokenizer, vocab, prompt, indentation="skip") == (prompt[:-1], " ")


# -- re-spelling blanks at their width ----------------------------------------------------


def test_free_healing_may_widen_the_blanks_or_break_the_line(tokenizer, vocab) -> None:
    processor = HealingProcessor(tokenizer, vocab, "    ", prompt_length=2)

    out = processor(torch.tensor([ids("x", ")\n")]), torch.zeros(1, len(PIECES)))

    assert {"        ", "    \n"} <= finite(out[0])


def test_kept_blanks_are_re_spelled_at_their_width_then_code_follows(tokenizer, vocab) -> None:
    processor = HealingProcessor(tokenizer, vocab, "    ", prompt_length=2, keep_width=True)

    first = processor(torch.tensor([ids("x", ")\n")]), torch.zeros(1, len(PIECES)))
    assert finite(first[0]) == {" ", "  ", "   "}  # not "    " alone, "        ", "    \n"

    then = processor(torch.tensor([ids("x", ")\n", "   ")]), torch.zeros(1, len(PIECES)))
    assert finite(then[0]) == {" return", " x"}  # not " ", " \n"


def test_the_blanks_alone_where_nothing_else_keeps_their_width(vocab) -> None:
    assert {PIECES[i] for i in vocab.allowed_keeping_width("\t")} == {"\t"}


def test_keep_width_changes_nothing_for_a_word(tokenizer, vocab) -> None:
    keeping = HealingProcessor(tokenizer, vocab, "re", prompt_length=1, keep_width=True)
    free = HealingProcessor(tokenizer, vocab, "re", prompt_length=1)
    prompt = torch.tensor([ids("x")])

    assert torch.equal(
        keeping(prompt, torch.zeros(1, len(PIECES))), free(prompt, torch.zeros(1, len(PIECES)))
    )


# -- no line break first ------------------------------------------------------------------


def line_breaks() -> set[str]:
    return {"    \n", "\n", "\n\n", "\n    ", " \n"}


def test_a_first_token_may_not_break_the_line(tokenizer, vocab) -> None:
    processor = NoLeadingLineBreak(tokenizer, vocab, "", prompt_length=1)

    out = processor(torch.tensor([ids("=")]), torch.zeros(1, len(PIECES)))

    assert finite(out[0]) == set(PIECES) - line_breaks()
    assert ")\n" in finite(out[0])  # code, then the break: a whole one-line answer


def test_blanks_first_do_not_lift_the_ban_code_does(tokenizer, vocab) -> None:
    processor = NoLeadingLineBreak(tokenizer, vocab, "", prompt_length=1)
    rows = torch.tensor([ids("=", "  "), ids("=", "x")])

    out = processor(rows, torch.zeros(2, len(PIECES)))

    assert "\n" not in finite(out[0])
    assert finite(out[1]) == set(PIECES)
    scores = torch.randn(2, len(PIECES))
    rows = torch.tensor([ids("=", "  ", "x"), ids("=", "x", "\n")])
    assert torch.equal(processor(rows, scores.clone()), scores)  # both done: no work


def test_a_line_break_the_healed_text_re_spells_is_allowed(tokenizer, vocab) -> None:
    """The prompt's own `\n    ` was taken back: `\n` re-spells it; a break after it is
    the completion's, and banned."""
    healing = HealingProcessor(tokenizer, vocab, "\n    ", prompt_length=1)
    ban = NoLeadingLineBreak(tokenizer, vocab, "\n    ", prompt_length=1)

    def allowed(*written: str) -> set[str]:
        rows = torch.tensor([ids("x", *written)])
        return finite(ban(rows, healing(rows, torch.zeros(1, len(PIECES))))[0])

    assert allowed() == {"\n", "\n    "}
    assert not line_breaks() & allowed("\n    ")
    assert "x" in allowed("\n    ")
