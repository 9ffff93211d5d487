"""Variants, summaries and the table, from answers made up by hand."""

from __future__ import annotations

import json
import math

import pytest

from starcoder_ls.tools.eval.report import Item, summarise, table, variants
from starcoder_ls.tools.eval.runner import _json_safe
from starcoder_ls.tools.eval.scoring import Answer, Edit
from starcoder_ls.tools.eval.tasks import Check, Task

TASK = Task(
    task_id="HumanEval/0/L1",
    path="t.py",
    language_id="python",
    text="def f(x):\n    \n",
    line=1,
    column=4,
    expected="return x + 1",
    check=Check(test="def check(c):\n    assert c(1) == 2\n", entry_point="f"),
)


def answer(text: str, ms: float = 100.0) -> Answer:
    return Answer(edit=Edit(text=text, start=TASK.offset, end=TASK.offset), latency_ms=ms)


def test_raw_is_cut_at_the_first_newline_and_keeps_the_uncut_text() -> None:
    scored = variants(
        TASK, answer("return x + 1"), answer("return x + 1\n\ndef g():"), humaneval=True
    )
    raw = scored["raw"]
    assert raw.text == "return x + 1" and raw.exact and raw.similarity == 1.0
    assert raw.uncut == "return x + 1\n\ndef g():"
    assert raw.latency_ms is None  # a cache hit: no latency of its own


def test_pipeline_first_line_separates_the_filters_from_the_multi_line_choice() -> None:
    scored = variants(TASK, answer("return x + 1\n    print(x)"), None, humaneval=True)
    assert not scored["pipeline"].exact
    assert scored["pipeline_first_line"].exact
    assert scored["pipeline"].latency_ms == 100.0
    assert "raw" not in scored


def test_nextline_compares_first_lines_and_has_no_first_line_variant() -> None:
    plain = Task(**{**TASK.__dict__, "check": None})
    scored = variants(plain, answer("return x + 1\n    more"), answer("return x"), humaneval=False)
    assert set(scored) == {"pipeline", "raw"}
    assert scored["pipeline"].exact
    assert not scored["raw"].exact and scored["raw"].similarity == pytest.approx(8 / 12)


def report_for(items: list[Item]) -> dict:
    return {
        "run": {
            "benchmark": "single-line",
            "tasks": len(items),
            "tasks_available": 1033,
            "seed": 0,
            "model": "m",
            "device": "cpu",
            "dtype": "float32",
            "template": "prefix-only",
            "duration_s": 12.0,
            "commit": "abc1234+dirty",
        },
        "summary": {name: summarise(items, name) for name in items[0].results},
    }


def test_summary_shares_latency_and_table() -> None:
    items = []
    for text, ms, passed in (("return x + 1", 100.0, True), ("", 300.0, False)):
        item = Item(
            task=TASK, results=variants(TASK, answer(text, ms), answer(text), humaneval=True)
        )
        for scored in item.results.values():
            scored.passed = passed
        items.append(item)
    summary = summarise(items, "pipeline")
    assert summary["tasks"] == 2
    assert summary["pass_at_1"] == 0.5 and summary["exact_match"] == 0.5
    assert summary["empty"] == 0.5
    assert summary["latency_ms"] == {"mean": 200.0, "p90": 300.0}
    assert summarise(items, "raw")["latency_ms"] is None

    text = table(report_for(items))
    lines = text.splitlines()
    assert lines[0].startswith("starcoder-ls eval single-line: 2 of 1033 tasks")
    assert "abc1234+dirty" in lines[1]
    header = next(line for line in lines if "pass@1" in line)
    assert header.split() == ["pass@1", "exact", "edit", "sim", "empty", "mean", "ms", "p90", "ms"]
    rows = {line.split("  ")[0].strip(): line for line in lines if line.startswith(("pipe", "raw"))}
    assert set(rows) == {"pipeline", "pipeline, 1st line", "raw"}
    assert rows["pipeline"].split()[-2:] == ["200", "300"]
    assert rows["raw"].split()[-2:] == ["-", "-"]


def test_nextline_has_no_pass_at_1() -> None:
    plain = Task(**{**TASK.__dict__, "check": None})
    items = [Item(task=plain, results=variants(plain, answer("x"), None, humaneval=False))]
    assert summarise(items, "pipeline")["pass_at_1"] is None


def test_json_has_no_nan() -> None:
    data = _json_safe({"a": math.nan, "b": [1.0, math.nan], "c": {"d": math.nan}})
    assert json.loads(json.dumps(data)) == {"a": None, "b": [1.0, None], "c": {"d": None}}
