"""`starcoder-ls demo` (what `make run` shows): the server at work, as an editor drives it.

It starts `starcoder-ls serve` as a subprocess, opens a sample file over LSP, removes the
end of a few lines, asks for inline completions there and prints each line the way an
editor shows it, with the ghost text between ⟨ and ⟩, plus the time each request took.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from starcoder_ls.tools.driver import Driver, item_text
from starcoder_ls.tools.shared import choose_holes, numbers, server_args

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


def _styled(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def show(line_prefix: str, ghost: str, line_suffix: str, color: bool) -> str:
    ghost_line = ghost.split("\n")
    first = f"{DIM}{ghost_line[0]}{RESET}" if color else f"⟨{ghost_line[0]}⟩"
    shown = line_prefix + first + line_suffix
    for extra in ghost_line[1:]:
        shown += "\n" + (f"{DIM}{extra}{RESET}" if color else f"⟨{extra}⟩")
    return shown


async def _demo(args: argparse.Namespace) -> int:
    sample = args.file or resources.files("starcoder_ls.samples") / "inventory.py"
    original = Path(str(sample)).read_text()
    holes = choose_holes(original)
    color = _styled(sys.stdout)

    log_file = args.log_file or Path(tempfile.gettempdir()) / "starcoder-ls-demo.log"
    driver = Driver("starcoder-ls-demo")
    print(f"starting: starcoder-ls serve  (log: {log_file})")
    started = time.perf_counter()
    await driver.start(server_args(args, log_file), {"debounceMs": 0})
    status = await driver.wait_ready(timeout_s=600)
    print(
        f"model {status['model']}: {status['state']} on {status.get('device') or '?'} "
        f"{numbers(status)} ({status.get('message', '')}; "
        f"{time.perf_counter() - started:.1f} s since start)\n"
    )
    failures = 0 if status["state"] == "ready" else 1
    uri = Path(str(sample)).resolve().as_uri()
    for hole in holes:
        lines = original.split("\n")
        line_prefix = lines[hole.line][: hole.column]
        lines[hole.line] = line_prefix
        driver.set_text(uri, "\n".join(lines))
        items, ms = await driver.inline(uri, hole.line, hole.column, line_prefix)
        ghost = item_text(items[0]) if items else ""
        label = f"{BOLD}line {hole.line + 1}{RESET}" if color else f"line {hole.line + 1}"
        print(f"{label}  ({ms:.0f} ms, {len(items)} suggestion{'s' * (len(items) != 1)})")
        print("  " + show(line_prefix, ghost, "", color).replace("\n", "\n  "))
        print(f"  original: {line_prefix}{hole.expected}\n")
    await driver.stop()
    return failures


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))
