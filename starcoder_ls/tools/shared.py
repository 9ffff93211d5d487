"""What the tools share, so that none takes it from another sideways: the `serve` flags a
tool starts its server with, the cursor positions the demo and the bench ask at, settings
given as JSON on the command line, the nearest-rank percentile, and what every benchmark
reports with (a table of figures, the process's memory).

Only the standard library: the CLI's parser takes `settings_json` from here without
loading pygls or a harness.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]
"""The `starcoder_ls` package: tools read its sources and find the checkout from it (a
path counted from a tool's own file breaks when the tool moves)."""
REPOSITORY = PACKAGE.parent
"""The checkout the package runs from (`pip install -e .`, as `make` installs it)."""


def server_args(args: argparse.Namespace, log_file: Path) -> list[str]:
    """`serve` flags for the model options given to `demo`, `bench`, `bench replay` or
    `eval`, remote engine included (`--backend`, `--endpoint`, `--remote-model`)."""
    flags = ["--log-file", str(log_file)]
    for flag in ("log_level", "model", "device", "dtype", "backend", "endpoint", "remote_model"):
        value = getattr(args, flag, None)
        if value and not (flag == "backend" and value == "local"):
            flags += [f"--{flag.replace('_', '-')}", str(value)]
    return flags


@dataclass(frozen=True)
class Hole:
    line: int
    column: int
    expected: str


def choose_holes(text: str, count: int = 4) -> list[Hole]:
    """Cursor positions worth showing: the rest of `return`, `raise` and assignment lines."""
    holes: list[Hole] = []
    for number, line in enumerate(text.split("\n")):
        stripped = line.strip()
        for keyword in ("return ", "raise ", "+= ", "print("):
            at = line.find(keyword)
            if at >= 0 and len(stripped) > len(keyword) + 2:
                column = at + len(keyword)
                holes.append(Hole(number, column, line[column:]))
                break
    step = max(len(holes) // count, 1)
    return holes[::step][:count]


def settings_json(value: str) -> dict[str, object]:
    """Server settings given as JSON on the command line, as `initializationOptions`
    would carry them; anything but a JSON object is a usage error, not a crash later."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. {"debounceMs": 0}')
    return parsed


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (`share` in (0, 1]); NaN for no values.

    Nearest rank reports a latency some request really had, which interpolation would not.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident memory in MB from /proc; (0, 0) where there is no /proc."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except OSError:
        return 0.0, 0.0
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


@dataclass
class Report:
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        print(f"  {name}: {value}", file=sys.stderr, flush=True)

    def markdown(self, title: str) -> str:
        lines = [f"### {title}", "", "| measure | value |", "| --- | --- |"]
        lines += [f"| {name} | {value} |" for name, value in self.rows]
        return "\n".join(lines) + "\n"


def numbers(status: dict[str, Any]) -> str:
    """A model status's dtype, and its weights for decoding where they differ
    (`cpuWeights`): "float32, float16 products"."""
    dtype = status.get("dtype", "?")
    weights = status.get("weights")
    return f"{dtype}, {weights} products" if weights else dtype
