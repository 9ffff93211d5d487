"""Per-task scores, their summary per variant (pipeline / raw), the table and the JSON.

The raw variant is answered from the server's cache (the pipeline request just generated
the same prompt), so it has no latency of its own and none is reported for it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starcoder_ls.tools.eval.scoring import (
    Answer,
    Edit,
    compared,
    edit_similarity,
    exact_match,
    first_line,
    mean,
)
from starcoder_ls.tools.eval.server_log import Generation
from starcoder_ls.tools.eval.tasks import Task
from starcoder_ls.tools.shared import percentile

VARIANTS = {
    "pipeline": "pipeline",
    "pipeline_first_line": "pipeline, 1st line",
    "raw": "raw",
}
"""JSON key -> table label. `pipeline_first_line` (HumanEval only) has the raw baseline's
shape, one line, so comparing the two isolates what the filters do from how much the
trigger chose to complete."""


@dataclass(kw_only=True)
class Scored:
    """One variant's answer to one task and how it fared."""

    text: str
    """What the editor would insert (the raw variant: cut at its first newline)."""
    start: int
    end: int
    exact: bool
    similarity: float
    empty: bool
    latency_ms: float | None
    passed: bool | None = None
    """None until the program has run; stays None where there is no program (next line)."""
    detail: str = ""
    error: str = ""
    uncut: str | None = None
    """The model's whole text before the first-line cut (raw only), to see what was cut."""

    @property
    def edit(self) -> Edit:
        return Edit(text=self.text, start=self.start, end=self.end)


def score(
    task: Task, edit: Edit, *, one_line: bool, latency_ms: float | None, error: str = ""
) -> Scored:
    """Exact match and edit similarity of `edit` against the task's hole.

    `one_line` (next-line tasks) compares only the first line of the answer: the question is
    whether the line being typed was finished right, whatever else was suggested below it.
    """
    answer, expected = compared(task, edit)
    if one_line:
        answer, expected = first_line(answer).rstrip(), first_line(expected).rstrip()
    return Scored(
        text=edit.text,
        start=edit.start,
        end=edit.end,
        exact=exact_match(answer, expected),
        similarity=edit_similarity(answer, expected),
        empty=edit.empty,
        latency_ms=latency_ms,
        error=error,
    )


def first_line_edit(task: Task, edit: Edit) -> Edit:
    """Only the first line of an answer, inserted at the cursor (replacing nothing when cut:
    the characters it replaced belonged after the last line)."""
    text = first_line(edit.text)
    if text == edit.text:
        return edit
    return Edit(text=text, start=task.offset, end=task.offset)


def variants(
    task: Task, pipeline: Answer, raw: Answer | None, *, humaneval: bool
) -> dict[str, Scored]:
    """Score the server's answers as each variant sees them.

    The raw baseline is what a plugin without post-processing would show: the model's first
    line at the cursor. Its latency is not its own (a cache hit), so none is kept.
    """
    one_line = not humaneval
    out = {
        "pipeline": score(
            task,
            pipeline.edit,
            one_line=one_line,
            latency_ms=pipeline.latency_ms,
            error=pipeline.error,
        )
    }
    if humaneval:
        out["pipeline_first_line"] = score(
            task,
            first_line_edit(task, pipeline.edit),
            one_line=False,
            latency_ms=None,
            error=pipeline.error,
        )
    if raw is not None:
        cut = Edit(text=first_line(raw.edit.text), start=task.offset, end=task.offset)
        out["raw"] = score(task, cut, one_line=one_line, latency_ms=None, error=raw.error)
        out["raw"].uncut = raw.edit.text
    return out


@dataclass(kw_only=True)
class Item:
    task: Task
    results: dict[str, Scored] = field(default_factory=dict)
    generation: Generation | None = None
    """The pipeline request's mode and tokens, from the server's log (None without one)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task.task_id,
            "language": self.task.language_id,
            "line": self.task.line,
            "column": self.task.column,
            "expected": self.task.expected,
            "generation": None if self.generation is None else dataclasses.asdict(self.generation),
            **{name: dataclasses.asdict(scored) for name, scored in self.results.items()},
        }


def summarise(items: Sequence[Item], variant: str) -> dict[str, Any]:
    scored = [item.results[variant] for item in items if variant in item.results]
    ran = [s.passed for s in scored if s.passed is not None]
    latencies = [s.latency_ms for s in scored if s.latency_ms is not None]
    return {
        "tasks": len(scored),
        "pass_at_1": _share(ran) if ran else None,
        "exact_match": _share([s.exact for s in scored]),
        "edit_similarity": mean([s.similarity for s in scored]),
        "empty": _share([s.empty for s in scored]),
        "errors": sum(1 for s in scored if s.error),
        "latency_ms": {"mean": mean(latencies), "p90": percentile(latencies, 0.9)}
        if latencies
        else None,
    }


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _ms(summary: dict[str, Any], key: str) -> str:
    latency = summary["latency_ms"]
    return "-" if not latency else f"{latency[key]:.0f}"


def table(report: dict[str, Any]) -> str:
    """The human-readable result: a header naming what was measured, then one row per variant."""
    run = report["run"]
    header = (
        f"starcoder-ls eval {run['benchmark']}: {run['tasks']} of {run['tasks_available']} tasks "
        f"(seed {run['seed']})\n"
        f"model {run['model']} on {run['device']} {run['dtype']}, template {run['template']}; "
        f"{run['duration_s']:.0f} s; commit {run['commit']}\n"
    )
    columns = ("", "pass@1", "exact", "edit sim", "empty", "mean ms", "p90 ms")
    rows = [columns]
    summaries = report["summary"]
    for name, label in VARIANTS.items():
        if name not in summaries:
            continue
        s = summaries[name]
        rows.append(
            (
                label,
                _pct(s["pass_at_1"]),
                _pct(s["exact_match"]),
                f"{s['edit_similarity']:.3f}",
                _pct(s["empty"]),
                _ms(s, "mean"),
                _ms(s, "p90"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    notes = []
    if "pipeline_first_line" in summaries:
        notes.append("pipeline, 1st line: the pipeline's answer cut at its first newline")
    if "raw" in summaries:
        notes.append(
            "raw: the model's text before post-processing, cut at its first newline "
            "(same generation as the pipeline's, answered from the server's cache)"
        )
    errors = sum(s["errors"] for s in summaries.values())
    if errors:
        notes.append(f"{errors} request(s) failed; see 'error' in the JSON items")
    return header + "\n" + "\n".join(lines) + "".join(f"\n- {note}" for note in notes) + "\n"
