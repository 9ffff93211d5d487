"""Token healing, piece by piece with a fake tokenizer, then once with the embedded model."""

from __future__ import annotations

import threading

import pytest
import torch

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.healing import (
    MAX_HEALED_CHARS,
    HealingProcessor,
    Vocabulary,
    split_last_token,
    strip_healed,
)

SPECIAL = "<|endoftext|>"
LONG = "x" * (MAX_HEALED_CHARS + 1)
PIECES = [
    SPECIAL,
    "a",
    " ",
    "return",
    " a",
    " +",
    " b",
    "\n",
    "    ",
    "\n    ",
    "self",
    ".",
    "i",
    "ite",
    "items",
    "ms",
    "te",
    LONG,
    "\ufffd",
]


class FakeTokenizer:
    """Greedy longest-match over `PIECES`, with the slice of the transformers API healing uses."""

    all_special_ids = [0]
    added_tokens_decoder: dict[int, object] = {}

    def __len__(self) -> int:
        return len(PIECES)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = []
        while text:
            best = max(
                (i for i, piece in enumerate(PIECES) if piece and text.startswith(piece)),
                key=lambda i: len(PIECES[i]),
            )
            ids.append(best)
            text = text[len(PIECES[best]) :]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False, **kwargs: object) -> str:
        return "".join(
            PIECES[i] for i in ids if not (skip_special_tokens and i in self.all_special_ids)
        )

    def batch_decode(self, rows: list[list[int]], **kwargs: object) -> list[str]:
        return [self.decode(row, **kwargs) for row in rows]  # type: ignore[arg-type]


@pytest.fixture
def tokenizer() -> FakeTokenizer:
    return FakeTokenizer()


@pytest.fixture
def vocab(tokenizer: FakeTokenizer) -> Vocabulary:
    return Vocabulary(tokenizer)


def ids(*pieces: str) -> list[int]:
    return [PIECES.index(piece) for piece in pieces]


def texts(token_ids: tuple[int, ...]) -> set[str]:
    return {PIECES[i] for i in token_ids}


# -- split_last_token --------------------------------------------------------------------


def test_the_last_token_is_taken_back_with_its_text(tokenizer, vocab) -> None:
    prompt = ids("    ", "return", " ")

    assert split_last_token(tokenizer, vocab, prompt) == (ids("    ", "return"), " ")
    assert split_last_token(tokenizer, vocab, ids("self", ".", "ite")) == (ids("self", "."), "ite")


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param(["return"], id="a-single-token-leaves-nothing-to-condition-on"),
        pytest.param(["return", SPECIAL], id="special-token"),
        pytest.param(["a", LONG], id="longer-than-a-mid-word-cut"),
        pytest.param(["a", "\ufffd"], id="half-a-character"),
    ],
)
def test_some_last_tokens_are_not_worth_healing(tokenizer, vocab, prompt: list[str]) -> None:
    assert split_last_token(tokenizer, vocab, ids(*prompt)) == (ids(*prompt), "")


def test_a_last_token_that_merges_with_the_one_before_is_left_alone(vocab) -> None:
    class Merging(FakeTokenizer):
        def decode(
            self, ids: list[int], skip_special_tokens: bool = False, **kwargs: object
        ) -> str:
            text = super().decode(ids, skip_special_tokens=skip_special_tokens)
            return text.replace("a ", "A")  # the pair reads differently from its parts

    assert split_last_token(Merging(), vocab, ids("return", "a", " ")) == (
        ids("return", "a", " "),
        "",
    )


# -- Vocabulary --------------------------------------------------------------------------


def test_allowed_tokens_continue_the_removed_text_exactly(vocab) -> None:
    assert texts(vocab.allowed(" ")) == {" ", "    ", " a", " +", " b"}
    assert texts(vocab.allowed("ite")) == {"i", "ite", "items"}
    assert texts(vocab.allowed("te")) == {"te"}
    assert texts(vocab.allowed("\n    ")) == {"\n", "\n    "}


def test_special_tokens_are_never_allowed(vocab) -> None:
    assert vocab.is_special(0) and not vocab.is_special(1)
    assert vocab.texts[0] == ""
    assert 0 not in vocab.allowed("<|")


def test_token_texts_keep_their_leading_space() -> None:
    class SentencePieceLike(FakeTokenizer):
        """Drops the leading space of a text starting with a word, as SentencePiece does."""

        def decode(
            self, ids: list[int], skip_special_tokens: bool = False, **kwargs: object
        ) -> str:
            return super().decode(ids, skip_special_tokens=skip_special_tokens).removeprefix(" ")

    vocab = Vocabulary(SentencePieceLike())

    assert vocab.texts[PIECES.index(" a")] == " a"
    assert texts(vocab.allowed(" ")) == {" ", "    ", " a", " +", " b"}


# -- HealingProcessor --------------------------------------------------------------------


def test_the_first_token_must_re_spell_the_removed_text(tokenizer, vocab) -> None:
    prompt = ids("return")
    processor = HealingProcessor(tokenizer, vocab, " ", prompt_length=len(prompt))
    scores = torch.zeros(1, len(PIECES))

    out = processor(torch.tensor([prompt]), scores)

    finite = {PIECES[i] for i in torch.isfinite(out[0]).nonzero().flatten().tolist()}
    assert finite == {" ", "    ", " a", " +", " b"}


def test_rows_are_healed_independently_and_released_once_spelled(tokenizer, vocab) -> None:
    prompt = ids("self", ".")
    processor = HealingProcessor(tokenizer, vocab, "ite", prompt_length=len(prompt))
    rows = torch.tensor([prompt + ids("i"), prompt + ids("items")])
    scores = torch.zeros(2, len(PIECES))

    out = processor(rows, scores.clone())

    partly = {PIECES[i] for i in torch.isfinite(out[0]).nonzero().flatten().tolist()}
    assert partly == {"te"}  # "i" written, "te" still to come
    assert torch.equal(out[1], scores[1])  # "items" spelled "ite" and more: free again


def test_once_every_row_is_healed_a_step_does_no_work(tokenizer, vocab) -> None:
    prompt = ids("self", ".")
    processor = HealingProcessor(tokenizer, vocab, "ite", prompt_length=len(prompt))
    assert vocab.texts  # the vocabulary is decoded once per model, not per step
    decoded: list[list[int]] = []
    original = tokenizer.decode

    def counting(token_ids: list[int], **kwargs: object) -> str:
        decoded.append(token_ids)
        return original(token_ids, **kwargs)

    tokenizer.decode = counting

    def step(first: list[str], second: list[str], scores: torch.Tensor) -> torch.Tensor:
        return processor(torch.tensor([prompt + ids(*first), prompt + ids(*second)]), scores)

    step(["i"], ["ite"], torch.zeros(2, len(PIECES)))
    assert decoded == [ids("i"), ids("ite")]
    step(["i", "te"], ["ite", "ms"], torch.zeros(2, len(PIECES)))
    assert decoded[2:] == [ids("i", "te")]  # the healed second row is not decoded again

    scores = torch.randn(2, len(PIECES))
    expected = scores.clone()
    out = step(["i", "te", "ms"], ["ite", "ms", "ms"], scores)
    assert out is scores and torch.equal(out, expected)
    assert len(decoded) == 3


def test_nothing_is_masked_when_no_token_continues_the_text(tokenizer, vocab) -> None:
    processor = HealingProcessor(tokenizer, vocab, "zz", prompt_length=1)
    scores = torch.randn(1, len(PIECES))

    assert torch.equal(processor(torch.tensor([ids("a")]), scores.clone()), scores)


# -- strip_healed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "removed", "expected"),
    [
        pytest.param(" a + b", " ", "a + b", id="re-spelled-space"),
        pytest.param("items.append(item)", "ite", "ms.append(item)", id="mid-word"),
        pytest.param("a + b", "", "a + b", id="nothing-removed"),
        pytest.param("a + b", " ", "a + b", id="decoder-dropped-the-space"),
        pytest.param("x", "ite", "", id="not-re-spelled-nothing-to-show"),
        pytest.param("it", "ite", "", id="stopped-before-it-was-spelled"),
    ],
)
def test_strip_healed(text: str, removed: str, expected: str) -> None:
    assert strip_healed(text, removed) == expected


# -- with the embedded model -------------------------------------------------------------


def complete(engine, prompt: str, *, healing: bool, stop: tuple[str, ...] = ("\n",)) -> str:
    params = GenerationParams(max_new_tokens=10, stop=stop, token_healing=healing)
    result = engine.generate(prompt, params, threading.Event())
    return result.choices[0].text


@pytest.mark.slow
def test_healing_after_a_trailing_space_gives_the_clean_answer(embedded_engine) -> None:
    prompt = "def add(a, b):\n    return "

    assert complete(embedded_engine, prompt, healing=True) == "a + b"
    assert complete(embedded_engine, prompt, healing=False) != "a + b"


@pytest.mark.slow
def test_a_healed_newline_does_not_trip_the_single_line_stop(embedded_engine) -> None:
    """The prompt ends in indentation the healed token re-spells from "\\n": the stop string
    must look only at text after it, or every completion here would be empty."""
    prompt = "def f(n):\n    if n == 0:\n        return 1\n    "

    assert complete(embedded_engine, prompt, healing=True).startswith("return n")
