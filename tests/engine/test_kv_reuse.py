"""KV reuse: the same answers with less prefill, on the tiny StarCoder; the pool alone."""

from __future__ import annotations

import dataclasses
import textwrap
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from starcoder_ls.engine import kv_reuse
from starcoder_ls.engine.base import GenerationParams, GenerationResult
from starcoder_ls.engine.kv_reuse import MIN_SHARED, PrefixCache, common_prefix
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings
from tests.support.logit_steering import ban, steered

SOURCE = Path(textwrap.__file__).read_text()
"""Python code the tiny tokenizer was trained on, the same on every machine."""


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> LocalEngine:
    # float32 whatever the CPU: these tests compare outputs token for token.
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


@pytest.fixture
def fresh(engine: LocalEngine) -> LocalEngine:
    """The module's model with an empty pool of its own."""
    return LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)


def fim(engine: LocalEngine, prefix: str, suffix: str = "\n\ndef after():\n    pass\n") -> str:
    return engine.info.template.render(prefix, suffix)


def long_prefix(chars: int = 2400) -> str:
    """Roughly 800 tokens of code ending mid-line, as a cursor in a long file does."""
    return SOURCE[:chars] + "\ndef wrap_all(texts):\n    return [wrap(t) for t in te"


def no_end(engine: LocalEngine):
    """Steering that bans every id that would end a completion, for full-length answers."""
    template = engine.info.template
    tokens = [engine.tokenizer.eos_token, *template.stop_tokens]
    return ban([engine.tokenizer.convert_tokens_to_ids(token) for token in tokens])


def run(engine: LocalEngine, prompt: str, **params: object) -> GenerationResult:
    params.setdefault("max_new_tokens", 8)
    return engine.generate(prompt, GenerationParams(**params), threading.Event())


# -- the pool, with stand-in caches ----------------------------------------------------


class FakeCache:
    def __init__(self, length: int) -> None:
        self.length = length

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        assert tokens_to_remove < 0
        self.length += tokens_to_remove


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 3, 4]) == 3
    assert common_prefix([1, 2, 3], [1, 9, 3]) == 1
    assert common_prefix([], [1]) == 0
    long = list(range(5000))
    assert common_prefix(long, [*long[:3210], -1, *long[3211:]]) == 3210


def test_the_longest_shared_prefix_is_taken_and_cropped_to_it() -> None:
    pool = PrefixCache(max_tokens=10_000)
    pool.put(list(range(100)), FakeCache(100))
    pool.put([*range(60), *range(500, 540)], FakeCache(100))
    ids = [*range(80), 7, 7]

    cache, reused = pool.take(ids)

    assert (reused, cache.length) == (80, 80)
    assert len(pool) == 1  # taken out: the caller extends it and puts it back


def test_the_last_token_always_runs() -> None:
    pool = PrefixCache(max_tokens=10_000)
    pool.put(list(range(50)), FakeCache(50))

    cache, reused = pool.take(list(range(50)))

    assert (reused, cache.length) == (49, 49)


def test_an_entry_sharing_only_a_few_tokens_is_left_alone() -> None:
    pool = PrefixCache(max_tokens=10_000)
    pool.put(list(range(100)), FakeCache(100))

    assert pool.take([*range(MIN_SHARED - 1), -1, -2]) == (None, 0)
    assert len(pool) == 1
    short = PrefixCache(max_tokens=10_000)
    short.put([1, 2, 3], FakeCache(3))
    assert short.take([1, 2, 3, 4])[1] == 3  # all of a short entry is worth taking


def test_the_pool_is_bounded_by_entries_and_tokens_but_keeps_the_newest() -> None:
    pool = PrefixCache(max_tokens=250, max_entries=3)
    for start in range(0, 500, 100):
        pool.put(list(range(start, start + 100)), FakeCache(100))
    assert (len(pool), pool.tokens) == (2, 200)

    pool.put(list(range(1000, 1400)), FakeCache(400))
    assert (len(pool), pool.tokens) == (1, 400)
    pool.clear()
    assert len(pool) == 0


def test_caches_that_cannot_be_cropped_to_any_prefix_are_not_reused() -> None:
    from transformers import MistralConfig

    def tiny(window: int | None) -> SimpleNamespace:
        config = MistralConfig(
            num_hidden_layers=2, hidden_size=32, num_attention_heads=4, sliding_window=window
        )
        return SimpleNamespace(config=config)

    assert not kv_reuse.supports_reuse(tiny(16))
    assert kv_reuse.supports_reuse(tiny(None))


# -- the tiny StarCoder ------------------------------------------------------------------


SESSION: list[tuple[str, dict[str, object]]] = [
    ("", {}),
    ("xt", {}),
    ("xts", {"stop": ("\n",)}),
    ("xts", {"temperature": 0.8, "n": 3, "seed": 11}),
    ("xts]", {"token_healing": False, "max_new_tokens": 12}),
    ("xts]\n", {"temperature": 0.8, "n": 2, "seed": 5, "stop": (")",)}),
]
"""Typing after `long_prefix()`: greedy, healed, with stops, and sampled alternatives."""


def session(engine: LocalEngine, *, reuse: bool) -> list[GenerationResult]:
    prefix = long_prefix()
    return [
        run(engine, fim(engine, prefix + typed), kv_reuse=reuse, **params)
        for typed, params in SESSION
    ]


def test_answers_are_the_same_with_and_without_reuse(engine: LocalEngine) -> None:
    plain = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)
    reusing = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)

    with steered(engine.model, no_end(engine)):
        without = session(plain, reuse=False)
        with_reuse = session(reusing, reuse=True)

    assert sum(c.tokens for r in without for c in r.choices) > 60
    assert [r.choices for r in with_reuse] == [r.choices for r in without]
    assert [r.prompt_tokens for r in with_reuse] == [r.prompt_tokens for r in without]
    assert all(r.prefilled_tokens == r.prompt_tokens for r in without)
    assert with_reuse[0].prefilled_tokens == with_reuse[0].prompt_tokens
    assert all(r.prefilled_tokens < r.prompt_tokens / 10 for r in with_reuse[1:])
    assert len(plain.prefix_cache) == 0


def test_one_typed_character_prefills_only_the_tokens_after_the_change(
    fresh: LocalEngine,
) -> None:
    prefix = long_prefix()
    first = run(fresh, fim(fresh, prefix))
    typed = run(fresh, fim(fresh, prefix + "x"))

    assert first.prefilled_tokens == first.prompt_tokens > 700
    assert 1 <= typed.prefilled_tokens <= 0.05 * typed.prompt_tokens


def test_a_prompt_that_diverges_early_prefills_from_the_divergence(fresh: LocalEngine) -> None:
    prefix = long_prefix()
    edited = prefix.replace("import re", "import regex", 1)
    assert edited != prefix
    run(fresh, prefix, token_healing=False)

    result = run(fresh, edited, token_healing=False)

    shared = common_prefix(fresh.encode(prefix), fresh.encode(edited))
    assert MIN_SHARED <= shared < result.prompt_tokens / 2
    assert result.prefilled_tokens == result.prompt_tokens - shared


def test_sampled_alternatives_share_the_greedy_call_s_prefill(fresh: LocalEngine) -> None:
    prompt = fim(fresh, long_prefix())
    greedy = run(fresh, prompt)
    sampled = run(fresh, prompt, temperature=0.7, n=3, seed=1)
    again = run(fresh, prompt, temperature=0.7, n=3, seed=2)

    assert greedy.prefilled_tokens == greedy.prompt_tokens
    assert sampled.prefilled_tokens == again.prefilled_tokens == 1
    assert len(sampled.choices) == 3


def test_sampled_alternatives_alone_prefill_once_not_per_row(fresh: LocalEngine) -> None:
    prompt = fim(fresh, long_prefix())
    with steered(fresh.model, lambda step, logits: None) as inputs:
        result = run(fresh, prompt, temperature=0.7, n=3, seed=1, max_new_tokens=2)

    assert result.prefilled_tokens == result.prompt_tokens
    assert [tuple(i.shape) for i in inputs] == [(3, 1), (3, 1)]  # the prefill ran in one row


def test_a_cancelled_generation_leaves_a_usable_cache(fresh: LocalEngine) -> None:
    prompt = fim(fresh, long_prefix())
    cancel = threading.Event()

    def on_token(generated: int) -> None:
        if generated == 3:
            cancel.set()

    params = GenerationParams(max_new_tokens=12)
    with steered(fresh.model, no_end(fresh)):
        stopped = fresh.generate(prompt, params, cancel, on_token=on_token)
        after = fresh.generate(prompt, params, threading.Event())
        expected = fresh.generate(
            prompt, dataclasses.replace(params, kv_reuse=False), threading.Event()
        )

    assert stopped.cancelled and stopped.choices[0].tokens == 3
    assert after.choices[0].tokens == 12
    assert after.prefilled_tokens <= 2
    assert after.choices == expected.choices


def test_the_pool_is_bounded_and_freed_on_close(fresh: LocalEngine) -> None:
    fresh.prefix_cache.max_entries = 2
    for start in range(0, 1200, 300):
        run(fresh, SOURCE[start : start + 600], token_healing=False, max_new_tokens=2)
    assert len(fresh.prefix_cache) == 2
    assert fresh.prefix_cache.tokens <= fresh.prefix_cache.max_tokens

    fresh.close()
    assert len(fresh.prefix_cache) == 0


def test_turning_reuse_off_drops_the_kept_caches(fresh: LocalEngine) -> None:
    run(fresh, fim(fresh, long_prefix()))
    assert len(fresh.prefix_cache) == 1

    result = run(fresh, fim(fresh, long_prefix()), kv_reuse=False)

    assert result.prefilled_tokens == result.prompt_tokens
    assert len(fresh.prefix_cache) == 0


# -- the embedded SmolLM2 ----------------------------------------------------------------


@pytest.mark.slow
def test_the_embedded_model_answers_the_same_with_less_prefill(embedded_engine) -> None:
    def twin() -> LocalEngine:
        return LocalEngine(
            model=embedded_engine.model,
            tokenizer=embedded_engine.tokenizer,
            info=embedded_engine.info,
        )

    plain, reusing = twin(), twin()
    prefix = SOURCE[:4000] + "\n\ndef shorten_all(texts, width):\n    return [shorten(t, "
    steps = [
        ("", {"max_new_tokens": 12}),
        ("w", {"max_new_tokens": 12, "stop": ("\n",)}),
        ("w", {"max_new_tokens": 8, "temperature": 0.7, "n": 2, "seed": 3}),
    ]

    def answers(engine: LocalEngine, reuse: bool) -> list[GenerationResult]:
        return [run(engine, prefix + typed, kv_reuse=reuse, **p) for typed, p in steps]

    without, with_reuse = answers(plain, False), answers(reusing, True)

    assert [r.choices for r in with_reuse] == [r.choices for r in without]
    assert with_reuse[0].prompt_tokens > 1000
    assert with_reuse[1].prefilled_tokens <= 0.05 * with_reuse[1].prompt_tokens
    assert with_reuse[2].prefilled_tokens == 1
    assert "width" in with_reuse[0].choices[0].text + with_reuse[1].choices[0].text
