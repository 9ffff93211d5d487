"""LocalEngine on the tiny random StarCoder, steered: the repetition stop, the ban on a
leading line break, one-line stops after blank lines, and healing that skips indentation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings
from tests.support.logit_steering import force, steered

PREFIX = "def add(a, b):\n    return"


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> LocalEngine:
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


def ids_of(engine: LocalEngine, text: str) -> list[int]:
    return engine.tokenizer.encode(text, add_special_tokens=False)


def generate(engine: LocalEngine, prompt: str = PREFIX, **params: object):
    params.setdefault("token_healing", False)
    params.setdefault("kv_reuse", False)
    return engine.generate(prompt, GenerationParams(**params), threading.Event())


def test_a_loop_on_one_line_ends_the_generation_early(engine: LocalEngine) -> None:
    script = ids_of(engine, " f(a);" + " 1." * 60)
    eos = engine.tokenizer.eos_token_id
    with steered(engine.model, force(script, banned=[eos])):
        (stopped,) = generate(engine, max_new_tokens=100, repetition_stop=True).choices
    with steered(engine.model, force(script, banned=[eos])):
        (ran_on,) = generate(engine, max_new_tokens=100).choices

    assert (stopped.stop_reason, ran_on.stop_reason) == ("repetition", "length")
    assert stopped.tokens < ran_on.tokens == 100
    assert stopped.text.startswith(" f(a); 1. 1.") and ran_on.text.startswith(stopped.text)


def prefer_line_break_then(engine: LocalEngine, line_break: str, then: str, rest: str):
    """The first token: `line_break` by far, `then` second; afterwards `rest`, then EOS."""
    first_choice = ids_of(engine, line_break)
    assert len(first_choice) == 1
    second = ids_of(engine, then)[0]
    script = [*ids_of(engine, rest), engine.tokenizer.eos_token_id]

    def steer(step: int, logits: torch.Tensor) -> None:
        if step == 0:
            logits[:, first_choice[0]] = 1e4
            logits[:, second] = 1e3
            return
        logits[:] = float("-inf")
        logits[:, script[min(step - 1, len(script) - 1)]] = 0.0

    return steer


def test_a_forbidden_leading_line_break_gives_the_best_answer_on_the_line(
    engine: LocalEngine,
) -> None:
    steer = prefer_line_break_then(engine, "\n", " a", " + b")
    with steered(engine.model, steer):
        (empty,) = generate(engine, max_new_tokens=10, stop=("\n",)).choices
    with steered(engine.model, steer):
        (choice,) = generate(
            engine, max_new_tokens=10, stop=("\n",), no_leading_line_break=True
        ).choices

    assert (empty.text, empty.stop_reason) == ("", "stop")
    assert choice.text == " a + b"


def test_next_line_mode_goes_past_blank_lines_to_the_line_with_content(
    engine: LocalEngine,
) -> None:
    script = ids_of(engine, "\n\n    x = 1\n    y = 2\n")
    eos = engine.tokenizer.eos_token_id
    with steered(engine.model, force(script, banned=[eos])):
        (choice,) = generate(
            engine, "def f():\n", max_new_tokens=30, stop=("\n",), stop_after_blank_start=True
        ).choices
    with steered(engine.model, force(script, banned=[eos])):
        (plain,) = generate(engine, "def f():\n", max_new_tokens=30, stop=("\n",)).choices

    assert (choice.text, choice.stop_reason) == ("\n\n    x = 1", "stop")
    assert plain.text == ""


def test_skip_leaves_indentation_in_the_prompt(engine: LocalEngine) -> None:
    prompt = "def f(x):\n    if x:\n        return 1\n    "
    fed = ids_of(engine, prompt)
    healed = generate(engine, prompt, max_new_tokens=1, token_healing=True)
    skipped = generate(
        engine, prompt, max_new_tokens=1, token_healing=True, heal_indentation="skip"
    )
    assert healed.prompt_tokens == len(fed) - 1  # the indentation token was taken back
    assert skipped.prompt_tokens == len(fed)
