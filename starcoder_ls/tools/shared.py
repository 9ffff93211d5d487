"""What every benchmark command reports with: a table of figures and the process's memory.

Apart from `bench.py` so that the benchmarks it runs (`bench_random`, `bench_speculation`,
the replay) take them without importing `bench`, which imports them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


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
