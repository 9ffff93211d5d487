"""The scripted engine the protocol tests stand on: if it answered wrongly, every protocol
test would check the wrong thing, so its own rules are checked here, without a server."""

from __future__ import annotations

import threading
from pathlib import Path

from starcoder_ls.config import Settings
from starcoder_ls.engine.base import GenerationParams
from tests.support.scripted_server import (
    RecordingEngine,
    ScriptedEngine,
    choose,
    engine_factory,
    read_calls,
    write_script,
)


def test_greedy_answers_the_first_choice_and_samples_the_others() -> None:
    choices = ["a", "b", "c"]
    assert choose(choices, GenerationParams()) == ["a"]
    assert choose(choices, GenerationParams(temperature=0.7, n=2)) == ["b", "c"]
    assert choose(choices, GenerationParams(temperature=0.7, n=4)) == ["b", "c", "a", "b"]
    assert choose([], GenerationParams(temperature=0.7, n=2)) == []


def test_first_matching_rule_answers_cut_at_the_stop(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    write_script(
        script,
        [{"contains": "<filename>a.py", "choices": ["one\ntwo"]}, {"choices": ["other"]}],
    )
    engine = ScriptedEngine(script)
    one_line = GenerationParams(stop=("\n",))
    (first,) = engine.generate("<filename>a.py\nx", one_line, threading.Event()).choices
    assert (first.text, first.stop_reason) == ("one", "stop")
    (block,) = engine.generate("<filename>a.py\nx", GenerationParams(), threading.Event()).choices
    assert (block.text, block.stop_reason) == ("one\ntwo", "eos")
    (fallback,) = engine.generate("b.py", one_line, threading.Event()).choices
    assert fallback.text == "other"


def test_a_slow_answer_ends_when_cancelled(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    write_script(script, [{"choices": ["late"], "delay_ms": 60_000}])
    cancel = threading.Event()
    cancel.set()
    result = ScriptedEngine(script).generate("x", GenerationParams(), cancel)
    assert result.cancelled and not result.choices


def test_factory_takes_either_signature_and_the_template_setting(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    write_script(script, [{"choices": ["x"]}])
    load = engine_factory(script, None)
    assert load(None, device="cpu", template=None, progress=None).info.template.name == (
        "starcoder"
    )
    assert load(None, template="starcoder-spm").info.template.name == "starcoder-spm"
    settings = Settings(fim_template="starcoder-spm")
    assert load(settings, None).info.template.name == "starcoder-spm"


def test_record_pairs_each_call_with_its_result(tmp_path: Path) -> None:
    script, record = tmp_path / "script.json", tmp_path / "calls.jsonl"
    write_script(script, [{"choices": ["a", "b"]}])
    engine = RecordingEngine(ScriptedEngine(script), record)
    engine.generate("p1", GenerationParams(), threading.Event())
    engine.generate("p2", GenerationParams(temperature=0.5, n=2), threading.Event())
    with record.open("a") as out:
        out.write('{"call": 3, "prompt": "p3"')  # a line still being written
    first, second = read_calls(record)
    assert first["prompt"] == "p1" and [c["text"] for c in first["choices"]] == ["a"]
    assert second["params"]["n"] == 2 and [c["text"] for c in second["choices"]] == ["b", "a"]
    assert second["cancelled"] is False
