"""Running completed HumanEval programs: each in its own `python -I` subprocess, in a
temporary folder, with a timeout and a memory cap.

Model-written code may loop forever, allocate without end or write files; none of that
may reach the harness, the server or the working tree. This is containment against
accidents, not a security boundary: do not evaluate untrusted models on a machine you care
about without a container around it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT_BYTES = 2 * 1024**3
"""Address-space cap per program: ample for HumanEval, fatal for a runaway list."""

_RUNNER = """\
import runpy, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
except (ImportError, ValueError, OSError):
    pass
runpy.run_path(sys.argv[1], run_name="__main__")
"""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    passed: bool
    detail: str
    """"ok", "timeout", or the last line of stderr (the exception), for the JSON report."""


def run_program(source: str, *, timeout_s: float = 10.0) -> Outcome:
    """Exit status 0 within `timeout_s` is a pass; anything else is a failure."""
    with tempfile.TemporaryDirectory(prefix="starcoder-eval-") as folder:
        program = Path(folder) / "program.py"
        program.write_text(source, encoding="utf-8")
        runner = _RUNNER.format(limit=MEMORY_LIMIT_BYTES)
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", runner, str(program)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout_s,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
            )
        except subprocess.TimeoutExpired:
            return Outcome(passed=False, detail="timeout")
    if done.returncode == 0:
        return Outcome(passed=True, detail="ok")
    lines = [line for line in done.stderr.strip().split("\n") if line.strip()]
    return Outcome(passed=False, detail=lines[-1][:200] if lines else f"exit {done.returncode}")


def run_programs(
    sources: Sequence[str],
    *,
    timeout_s: float = 10.0,
    workers: int = 2,
    on_done: Callable[[int], None] = lambda count: None,
) -> list[Outcome]:
    """Outcomes in the order of `sources`; `on_done(count)` after each one, for progress.

    Threads suffice: each only waits on its subprocess.
    """
    outcomes: list[Outcome | None] = [None] * len(sources)
    finished = 0

    def one(index: int) -> None:
        outcomes[index] = run_program(sources[index], timeout_s=timeout_s)

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for future in [pool.submit(one, i) for i in range(len(sources))]:
            future.result()
            finished += 1
            on_done(finished)
    return [outcome for outcome in outcomes if outcome is not None]
