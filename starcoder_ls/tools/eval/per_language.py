"""The next-line report split by language: quality of the pipeline and of the raw model on
the same prompts, and what each request cost (tokens generated, time).

Tokens come from the server's log (`server_log.py`). Multi-line requests are counted
apart because a block that never stops early generates `maxNewTokens` tokens to keep one
line (issue 19): their median says whether the engine's stops work in that language.
Medians and p50 are nearest-rank (`shared.percentile`): a value some request really had.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from starcoder_ls.tools.eval.report import Item
from starcoder_ls.tools.eval.scoring import mean
from starcoder_ls.tools.shared import percentile


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5) if values else None


def _variant(items: Sequence[Item], name: str) -> dict[str, Any] | None:
    scored = [item.results[name] for item in items if name in item.results]
    if not scored:
        return None
    return {
        "tasks": len(scored),
        "exact_match": _share([s.exact for s in scored]),
        "edit_similarity": mean([s.similarity for s in scored]),
        "empty": _share([s.empty for s in scored]),
        "empty_count": sum(s.empty for s in scored),
    }


def _requests(items: Sequence[Item]) -> dict[str, Any]:
    """Tokens and time of the pipeline's requests that generated (not cache hits)."""
    generated = [
        item for item in items if item.generation is not None and item.generation.tokens is not None
    ]
    latencies = [
        item.results["pipeline"].latency_ms
        for item in items
        if "pipeline" in item.results and item.results["pipeline"].latency_ms is not None
    ]
    out: dict[str, Any] = {
        "generated": len(generated),
        "tokens_median": _median([item.generation.tokens for item in generated]),  # type: ignore[union-attr]
        "at_max_tokens": sum(item.generation.stop_reason == "length" for item in generated),  # type: ignore[union-attr]
        "p50_ms": _median(latencies),
    }
    for mode in ("single-line", "multi-line"):
        chosen = [
            item for item in items if item.generation is not None and item.generation.mode == mode
        ]
        tokens = [item.generation.tokens for item in chosen if item.generation.tokens is not None]  # type: ignore[union-attr]
        ms = [
            item.results["pipeline"].latency_ms
            for item in chosen
            if "pipeline" in item.results and item.results["pipeline"].latency_ms is not None
        ]
        out[mode] = {
            "requests": len(chosen),
            "tokens_median": _median(tokens),
            "at_max_tokens": sum(item.generation.stop_reason == "length" for item in chosen),  # type: ignore[union-attr]
            "p50_ms": _median(ms),
        }
    return out


def by_language(items: Sequence[Item]) -> dict[str, dict[str, Any]]:
    """Language id -> its tasks' figures, languages in alphabetical order."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.task.language_id, []).append(item)
    return {
        language: {
            "tasks": len(group),
            "pipeline": _variant(group, "pipeline"),
            "raw": _variant(group, "raw"),
            "requests": _requests(group),
        }
        for language, group in sorted(groups.items())
    }


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _pair(summary: dict[str, Any], key: str, show: Any) -> str:
    pipeline, raw = summary["pipeline"], summary["raw"]
    first = show(pipeline[key]) if pipeline else "-"
    return first if raw is None else f"{first} / {show(raw[key])}"


COLUMNS = (
    "language",
    "tasks",
    "exact",
    "edit sim",
    "empty",
    "tokens p50",
    "multi-line: n, tokens p50, at max",
    "p50 ms",
    "multi p50 ms",
)


def language_rows(languages: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per language; quality cells read `pipeline / raw`."""
    rows = []
    for language, s in languages.items():
        requests = s["requests"]
        multi = requests["multi-line"]
        rows.append(
            (
                language,
                str(s["tasks"]),
                _pair(s, "exact_match", _pct),
                _pair(s, "edit_similarity", lambda v: _num(v, 3)),
                _pair(s, "empty_count", str),
                _num(requests["tokens_median"]),
                f"{multi['requests']}, {_num(multi['tokens_median'])}, {multi['at_max_tokens']}",
                _num(requests["p50_ms"]),
                _num(multi["p50_ms"]),
            )
        )
    return rows


def language_table(languages: dict[str, dict[str, Any]]) -> str:
    """The per-language block of the text report ('' when there is nothing to show)."""
    if not languages:
        return ""
    rows = [COLUMNS, *language_rows(languages)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    note = (
        "- per language: exact, edit sim and empty (a count) read pipeline / raw; tokens "
        "generated by the pipeline's request (from the server log), median and for "
        "multi-line requests apart (at max: stopped by maxNewTokens); p50 ms of the "
        "pipeline's request"
    )
    return "\n" + "\n".join(lines) + "\n" + note + "\n"
