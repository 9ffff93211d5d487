"""`generate(on_text=...)`: the first choice's text so far after each decode step, so a
caller can stop a generation at the first token it does not want (completion/inflight.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.local import LocalEngine
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.engine.stopping import CancelCriteria, TextProgress
from tests.engine.test_stopping import PIECES, ByteTokenizer, run_steps
from tests.support.logit_steering import force, steered

PREFIX = "def add(a, b):\n    return"


def test_progress_reports_the_first_row_and_waits_for_whole_characters() -> None:
    tok = ByteTokenizer(PIECES)
    seen: list[str] = []
    progress = TextProgress(tok, seen.append, prompt_length=1)
    rows = [tok.ids(b"x", b"\xc3", b"\xa9", b"x"), tok.ids(b"def", b" f", b"():", b"\n")]
    flags = run_steps(progress, tok.ids(b"<prompt>"), rows)
    assert flags == [[False, False]] * 4, "it never stops a row"
    assert seen == ["x", "x\u00e9", "x\u00e9x"]


def test_a_cancel_set_from_on_text_stops_that_same_step() -> None:
    tok = ByteTokenizer(PIECES)
    cancel = threading.Event()

    def on_text(text: str) -> None:
        if not "def f():".startswith(text):
            cancel.set()

    progress = TextProgress(tok, on_text, prompt_length=1)
    stop = CancelCriteria(cancel, prompt_length=1)

    def criteria(ids: torch.Tensor, scores: object) -> torch.Tensor:
        return progress(ids, scores) | stop(ids, scores)

    rows = [tok.ids(b"def", b" f", b"x", b"():")]
    flags = run_steps(criteria, tok.ids(b"<prompt>"), rows)
    assert [row[0] for row in flags] == [False, False, True, True]
    assert stop.cancelled_at == 3


@pytest.fixture(scope="module")
def engine(tiny_starcoder_dir: Path) -> LocalEngine:
    engine = LocalEngine.load(EngineSettings(model=str(tiny_starcoder_dir), dtype="float32"))
    yield engine
    engine.close()


@pytest.mark.parametrize("lookup", [0, 4])
def test_the_engine_reports_the_text_its_answer_starts_with(
    engine: LocalEngine, lookup: int
) -> None:
    """Greedy with and without prompt lookup (speculation.py's own loop)."""
    seen: list[str] = []
    script = engine.tokenizer.encode(" a + b  # sum", add_special_tokens=False)
    eos = engine.tokenizer.eos_token_id
    with steered(engine.model, force(script, banned=[eos])):
        result = engine.generate(
            PREFIX,
            GenerationParams(max_new_tokens=len(script), prompt_lookup=lookup, token_healing=False),
            threading.Event(),
            on_text=seen.append,
        )
    (choice,) = result.choices
    assert seen and seen[-1] == choice.text
    if not lookup:  # the steering counts forward passes, which guesses make fewer
        assert choice.text == " a + b  # sum"
    assert all(later.startswith(earlier) for earlier, later in zip(seen, seen[1:], strict=False))


def test_the_engine_stops_at_the_token_on_text_refuses(engine: LocalEngine) -> None:
    cancel = threading.Event()
    script = engine.tokenizer.encode(" a - b + c + d", add_special_tokens=False)
    eos = engine.tokenizer.eos_token_id

    def on_text(text: str) -> None:
        if not (text.startswith(" a +") or " a +".startswith(text)):
            cancel.set()

    with steered(engine.model, force(script, banned=[eos])):
        result = engine.generate(
            PREFIX,
            GenerationParams(max_new_tokens=20, token_healing=False),
            cancel,
            on_text=on_text,
        )
    (choice,) = result.choices
    assert result.cancelled and choice.stop_reason == "cancelled"
    assert choice.text == " a -"
