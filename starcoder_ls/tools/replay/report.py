"""One markdown table, a column per run (server tree × editor), and the same as JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starcoder_ls.tools.replay.counters import Counters
from starcoder_ls.tools.replay.session import Tally
from starcoder_ls.tools.shared import percentile


@dataclass(kw_only=True)
class RunResult:
    label: str
    """Which server: "this checkout @ <commit>" or "<tree> @ <commit>"."""
    editor: str
    model: str
    tally: Tally
    counters: Counters
    """Change over the run."""
    overhead_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    def to_json(self) -> dict[str, Any]:
        tally = dataclasses.asdict(self.tally)
        del tally["answered"], tally["reads"]
        return {
            "label": self.label,
            "editor": self.editor,
            "model": self.model,
            "tally": tally
            | {"keystrokes": self.tally.keystrokes, "pauses_missed": self.tally.pauses_missed},
            "counters": dataclasses.asdict(self.counters),
            "overhead_ms": self.overhead_ms,
            "summary": {
                "pause_latency_ms": latency_summary(self.tally.pause_latencies_ms),
                "overhead_ms": latency_summary(self.overhead_ms),
            },
            "peak_rss_mb": self.peak_rss_mb,
        }


def latency_summary(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9)}


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})" if whole else f"{part} of 0"


def _p50_p90(values: Sequence[float], unit: str = "ms") -> str:
    if not values:
        return "n/a"
    return f"{percentile(values, 0.5):.0f} / {percentile(values, 0.9):.0f} {unit} (n={len(values)})"


def _per(amount: float, count: int, digits: int = 1) -> str:
    return f"{amount / count:.{digits}f}" if count else "n/a"


def rows(result: RunResult) -> list[tuple[str, str]]:
    """The table's rows for one run, in the order the issue lists them."""
    t, c = result.tally, result.counters
    return [
        ("model", result.model),
        ("keystrokes (keys + Tab)", f"{t.keystrokes} ({t.keys} + {t.accepts})"),
        ("pauses showing a suggestion", _share(t.pauses_shown, t.pauses)),
        ("last key → suggestion shown, p50 / p90", _p50_p90(t.pause_latencies_ms)),
        ("pauses without one, by the answer for the text as typed", _missed(t)),
        ("suggestions shown (pauses and between keys)", str(t.shown)),
        ("requests sent (cancelled by the editor)", f"{t.requests} ({t.cancelled})"),
        (
            "model calls per keystroke",
            f"{_per(c.model_calls, t.keystrokes, 2)} ({c.model_calls} calls)",
        ),
        ("tokens prefilled per call", _per(c.prefilled_tokens, c.model_calls, 0)),
        ("tokens decoded per call", _per(c.generated_tokens, c.model_calls)),
        (
            "generations kept through typing: adopted / abandoned",
            f"{c.adopted} / {c.abandoned}",
        ),
        ("warm-ups (completed)", f"{c.warmups} ({c.warmups_completed})"),
        ("stale answers (must be 0)", str(t.stale)),
        ("answers overtaken by typing on the wire", str(t.overtaken)),
        ("characters written by accepted suggestions", _share(t.accepted_chars, _chars(t))),
        ("server overhead (end-to-end − engine), p50 / p90", _p50_p90(result.overhead_ms)),
        ("error answers", str(t.errors)),
        ("server peak RSS", f"{result.peak_rss_mb:.0f} MB"),
    ]


def _missed(tally: Tally) -> str:
    missed = sorted(tally.pauses_missed.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{why} {count}" for why, count in missed) or "none"


def _chars(tally: Tally) -> int:
    return tally.typed_chars + tally.accepted_chars


def markdown(results: Sequence[RunResult]) -> str:
    table = [rows(result) for result in results]
    names = [name for name, _ in table[0]]
    lines = [
        "| measure | " + " | ".join(f"{r.label} · {r.editor}" for r in results) + " |",
        "| --- |" + " --- |" * len(results),
    ]
    for i, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(run[i][1] for run in table) + " |")
    return "\n".join(lines) + "\n"
