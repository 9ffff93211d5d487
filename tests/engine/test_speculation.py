"""Speculative greedy decoding (prompt lookup, a draft model): the same answers in fewer
forward passes of the model, on the tiny StarCoder; the guessers alone."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from starcoder_ls.engine.base import EngineError, GenerationParams, GenerationResult
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.engine.speculation import FirstOf, PromptLookup, same_vocabulary

SOURCE = Path(textwrap.__file__).read_text()


# -- the guessers alone ----------------------------------------------------------------


def test_prompt_lookup_proposes_what_followed_the_latest_occurrence_of_the_tail() -> None:
    lookup = PromptLookup(4)
    tokens = [1, 2, 3, 10, 11, 12, 13, 14, 9, 2, 3, 20, 21, 22, 23, 24, 8, 2, 3]

    assert lookup.propose(tokens, 10) == [20, 21, 22, 23]
    assert lookup.propose(tokens, 2) == [20, 21]
    assert lookup.propose([*tokens, 20], 10) == [21, 22, 23, 24]  # grown by confirmed ids


def test_prompt_lookup_prefers_the_longest_matching_tail() -> None:
    tokens = [5, 6, 7, 40, 41, 9, 9, 7, 50, 51, 9, 6, 7]  # ends in 6 7: matched at 1 only

    assert PromptLookup(2).propose(tokens, 5) == [40, 41]
    assert PromptLookup(2, ngrams=(1,)).propose(tokens, 5) == [50, 51]


def test_prompt_lookup_guesses_less_after_a_miss_and_more_after_a_hit() -> None:
    lookup = PromptLookup(8)
    tokens = [*range(20), 0, 1]

    assert len(lookup.propose(tokens, 100)) == 8
    lookup.accepted(8, 2)
    assert len(lookup.propose(tokens, 100)) == 3
    lookup.accepted(3, 3)
    assert len(lookup.propose(tokens, 100)) == 6
    lookup.accepted(6, 6)
    assert len(lookup.propose(tokens, 100)) == 8, "never more than asked for"
    lookup.accepted(8, 0)
    assert len(lookup.propose(tokens, 100)) == 1


def test_prompt_lookup_without_a_match_or_room_proposes_nothing() -> None:
    assert PromptLookup(5).propose([1, 2, 3, 4], 5) == []
    assert PromptLookup(5).propose([1, 2, 1, 2], 0) == []
    assert PromptLookup(0).propose([1, 2, 1, 2], 5) == []


def test_the_first_guesser_with_a_guess_proposes_and_hears_how_it_went() -> None:
    class Fixed:
        def __init__(self, guess: list[int]) -> None:
            self.guess, self.heard, self.closed = guess, [], False

        def propose(self, tokens: Sequence[int], limit: int) -> list[int]:
            return self.guess[:limit]

        def accepted(self, guessed: int, kept: int) -> None:
            self.heard.append((guessed, kept))

        def close(self) -> None:
            self.closed = True

    empty, second, third = Fixed([]), Fixed([7, 8]), Fixed([9])
    chain = FirstOf([empty, second, third])

    assert chain.propose([1], 5) == [7, 8]
    chain.accepted(2, 1)
    chain.close()
    assert (empty.heard, second.heard, third.heard) == ([], [(2, 1)], [])
    assert empty.closed and second.closed and third.closed


def test_vocabularies_must_be_the_same() -> None:
    class Vocab:
        def __init__(self, table: dict[str, int]) -> None:
            self.table = table

        def get_vocab(self) -> dict[str, int]:
            return self.table

    assert same_vocabulary(Vocab({"a": 0, "b": 1}), Vocab({"b": 1, "a": 0})) is None
    problem = same_vocabulary(Vocab({"a": 0, "b": 1}), Vocab({"a": 0, "b": 2, "c": 1}))
    assert problem is not None and "'b'" in problem and "tokenizer" in problem


# -- on the tiny StarCoder -------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> Iterator[LocalEngine]:
    # float32 whatever the CPU: these tests compare outputs token for token.
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def other_weights_dir(tiny_starcoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny StarCoder's tokenizer with other random weights: a draft that often differs."""
    from transformers import AutoConfig, GPTBigCodeForCausalLM

    path = tmp_path_factory.mktemp("tiny-draft")
    for name in tiny_starcoder_dir.iterdir():
        if name.name.startswith(("tokenizer", "special_tokens")):
            shutil.copy(name, path / name.name)
    torch.manual_seed(4321)
    GPTBigCodeForCausalLM(AutoConfig.from_pretrained(tiny_starcoder_dir)).save_pretrained(path)
    return path


def twin(engine: LocalEngine, draft: Any = None) -> LocalEngine:
    """The module's model with a pool of its own (and a draft when given)."""
    return LocalEngine(
        model=engine.model, tokenizer=engine.tokenizer, info=engine.info, draft=draft
    )


def end_ids(engine: LocalEngine) -> list[int]:
    tokens = [engine.tokenizer.eos_token, *engine.info.template.stop_tokens]
    return [engine.tokenizer.convert_tokens_to_ids(token) for token in tokens]


@contextmanager
def never_ending(*models: Any, ends: list[int]) -> Iterator[None]:
    """Every position's end-id logits masked, in every forward pass of each model: answers
    run to their length or stop, in plain and verifying passes alike."""

    def hook(module: Any, args: Any, output: torch.Tensor) -> torch.Tensor:
        output[..., ends] = float("-inf")
        return output

    handles = [model.get_output_embeddings().register_forward_hook(hook) for model in models]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def counting(model: Any) -> Iterator[list[int]]:
    """Yields the lengths of the ids fed to each forward pass of `model`'s LM head."""
    fed: list[int] = []

    def record(module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        fed.append(int(ids.shape[1]))

    handle = model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield fed
    finally:
        handle.remove()


@contextmanager
def copying(model: Any, text: Sequence[int]) -> Iterator[None]:
    """The model writes `text` on: at every position (plain or verifying pass) the token
    that follows it in `text` wins, as a model continuing code that repeats itself would."""

    def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> Any:
        logits = output.logits
        end = int(kwargs["cache"].get_seq_length())  # every token fed so far
        for row in range(logits.shape[1]):
            position = end - logits.shape[1] + row
            if position + 1 < len(text):
                logits[:, row, :] = float("-inf")
                logits[:, row, text[position + 1]] = 0.0
        return output

    handle = model.register_forward_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def fim(engine: LocalEngine, prefix: str, suffix: str = "\n\ndef after():\n    pass\n") -> str:
    return engine.info.template.render(prefix, suffix)


PREFIX = SOURCE[:2400] + "\ndef wrap_all(texts):\n    return [wrap(t) for t in te"

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("xt", {}),
    ("xts", {"stop": ("\n",)}),
    ("xts", {"stop": ("(",), "kv_reuse": False}),
    ("xts]", {"token_healing": False, "max_new_tokens": 12}),
    ("xts]\n", {"max_new_tokens": 40}),
    ("xts]\n    ", {"max_new_tokens": 3}),
]
"""Typing after PREFIX: healed and not, stops, with and without KV reuse."""


def session(engine: LocalEngine, **extra: Any) -> list[GenerationResult]:
    results = []
    for typed, params in CALLS:
        wanted = GenerationParams(**{"max_new_tokens": 20, **params, **extra})
        results.append(engine.generate(fim(engine, PREFIX + typed), wanted, threading.Event()))
    return results


def texts(results: list[GenerationResult]) -> list[tuple]:
    return [result.choices for result in results]


def test_prompt_lookup_answers_as_plain_greedy_decoding(engine: LocalEngine) -> None:
    with never_ending(engine.model, ends=end_ids(engine)):
        plain = session(twin(engine))
        with counting(engine.model) as fed:
            guessed = session(twin(engine), prompt_lookup=6)

    assert sum(c.tokens for r in plain for c in r.choices) > 80
    assert texts(guessed) == texts(plain)
    assert [r.prefilled_tokens for r in guessed] == [r.prefilled_tokens for r in plain]
    assert max(fed) > 1, "some guesses were fed"


def test_where_the_text_repeats_itself_lookup_takes_fewer_forward_passes(
    engine: LocalEngine,
) -> None:
    block = "    def area(self):\n        return self.width * self.height\n\n"
    prompt = "class Box:\n" + block + "class Tile:\n" + block + "class Card:\n"
    ids = engine.encode(prompt)
    text = [*ids, *engine.encode(block)]
    params = GenerationParams(max_new_tokens=len(text) - len(ids), token_healing=False)

    with copying(engine.model, text):
        with counting(engine.model) as plain_passes:
            plain = twin(engine).generate(prompt, params, threading.Event())
        with counting(engine.model) as guessed_passes:
            guessed = twin(engine).generate(
                prompt, dataclasses.replace(params, prompt_lookup=8), threading.Event()
            )

    assert plain.choices[0].text == guessed.choices[0].text == block
    assert len(plain_passes) == plain.choices[0].tokens > 12
    assert len(guessed_passes) <= len(plain_passes) / 3


def test_a_cancel_stops_a_guessing_generation_at_the_same_token(engine: LocalEngine) -> None:
    def cancelled_after(target: LocalEngine, count: int, **extra: Any) -> GenerationResult:
        cancel = threading.Event()

        def on_token(generated: int) -> None:
            if generated == count:
                cancel.set()

        params = GenerationParams(max_new_tokens=30, **extra)
        return target.generate(fim(target, PREFIX), params, cancel, on_token=on_token)

    with never_ending(engine.model, ends=end_ids(engine)):
        plain = cancelled_after(twin(engine), 5)
        guessed = cancelled_after(twin(engine), 5, prompt_lookup=8)

    assert guessed.cancelled and guessed.choices == plain.choices
    assert guessed.choices[0].tokens == 5


def test_sampled_calls_do_not_guess(engine: LocalEngine) -> None:
    params = GenerationParams(max_new_tokens=10, temperature=0.8, n=2, seed=3)
    with never_ending(engine.model, ends=end_ids(engine)):
        plain = twin(engine).generate(fim(engine, PREFIX), params, threading.Event())
        with counting(engine.model) as fed:
            guessed = twin(engine).generate(
                fim(engine, PREFIX), dataclasses.replace(params, prompt_lookup=8), threading.Event()
            )

    assert guessed.choices == plain.choices
    assert fed[1:] == [1] * (len(fed) - 1), "one token a step"


def test_a_draft_model_answers_as_plain_greedy_decoding(
    engine: LocalEngine, tiny_starcoder_dir: Path, other_weights_dir: Path
) -> None:
    exact = {"dtype": "float32"}
    itself = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), draft_model=str(tiny_starcoder_dir), **exact)
    )
    other = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), draft_model=str(other_weights_dir), **exact)
    )
    models = [engine.model, itself.model, itself.draft.model, other.model, other.draft.model]

    with never_ending(*models, ends=end_ids(engine)):
        plain = session(twin(engine))
        with counting(itself.model) as own_passes:
            own = session(itself)
        both = session(other, prompt_lookup=4)

    assert texts(own) == texts(plain)
    assert texts(both) == texts(plain)
    generated = sum(c.tokens for r in plain for c in r.choices)
    assert len(own_passes) < generated / 3, "a draft that is the model itself is always right"


def test_the_draft_keeps_its_cache_between_calls(
    tiny_starcoder_dir: Path, other_weights_dir: Path
) -> None:
    engine = LocalEngine.load(
        EngineSettings(model=str(tiny_starcoder_dir), draft_model=str(other_weights_dir))
    )
    params = GenerationParams(max_new_tokens=6)

    with counting(engine.draft.model) as fed:
        first = engine.generate(fim(engine, PREFIX), params, threading.Event())
        start = len(fed)
        engine.generate(fim(engine, PREFIX + "x"), params, threading.Event())

    assert fed[0] == first.prompt_tokens
    assert fed[start] < first.prompt_tokens / 10
    engine.close()


def test_a_draft_with_another_vocabulary_is_refused(
    tiny_starcoder_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    draft = tmp_path / "other-vocabulary"
    shutil.copytree(tiny_starcoder_dir, draft)
    tokenizer = AutoTokenizer.from_pretrained(draft)
    tokenizer.add_tokens(["<not_in_the_model>"])
    tokenizer.save_pretrained(draft)

    with pytest.raises(EngineError, match="vocabulary differs.*not_in_the_model"):
        LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), draft_model=str(draft)))
