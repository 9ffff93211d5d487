"""The command: sources, regions, one server per run (tree × editor), the table.

Runs go one after the other on the same machine with the same regions and key timing, so
a column per server tree compares before and after in one invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from starcoder_ls.tools.driver import Driver
from starcoder_ls.tools.replay.counters import Counters, from_stats, overhead_samples
from starcoder_ls.tools.replay.editors import EDITORS
from starcoder_ls.tools.replay.options import DEFAULT_SOURCE_COMMIT
from starcoder_ls.tools.replay.regions import Region, Source, Typing, choose_regions
from starcoder_ls.tools.replay.report import RunResult, markdown
from starcoder_ls.tools.replay.session import Session
from starcoder_ls.tools.shared import REPOSITORY, numbers, rss_mb, server_args

log = logging.getLogger(__name__)

STATS_COMMAND = "starcoder.stats"


def _git(*args: str, cwd: Path = REPOSITORY) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def project_sources(commit: str = DEFAULT_SOURCE_COMMIT) -> list[Source]:
    """The project's Python sources at `commit`, read from its git history."""
    try:
        names = _git("ls-tree", "-r", "--name-only", commit, "--", "starcoder_ls").split()
        return [
            Source(path=name, text=_git("show", f"{commit}:{name}"))
            for name in sorted(names)
            if name.endswith(".py")
        ]
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(
            f"cannot read the project's sources at {commit[:7]} with git ({exc}); "
            "pass --path FILE_OR_FOLDER"
        ) from exc


def path_sources(path: Path) -> list[Source]:
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    root = path.parent if path.is_file() else path
    return [
        Source(path=file.relative_to(root).as_posix(), text=file.read_text(encoding="utf-8"))
        for file in files
    ]


def tree_label(tree: Path | None) -> str:
    name = "this checkout" if tree is None else str(tree)
    try:
        commit = _git("describe", "--always", "--dirty", cwd=tree or REPOSITORY).strip()
    except (OSError, subprocess.SubprocessError):
        return name
    return f"{name} @ {commit}"


class StatsProbe:
    """`starcoder.stats` over LSP."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def read(self, done: Callable[[Counters], None]) -> None:
        params = types.ExecuteCommandParams(command=STATS_COMMAND)
        _, future = self.driver.request(types.WORKSPACE_EXECUTE_COMMAND, params)

        def arrived(answer: Future[Any]) -> None:
            if answer.exception() is not None:
                log.warning("starcoder.stats failed: %s", answer.exception())
                return
            done(from_stats(answer.result()))

        future.add_done_callback(arrived)


async def stats_probe(driver: Driver, label: str) -> StatsProbe:
    """The counters' probe, once the server has answered `starcoder.stats`: a server
    without it (older than the command) cannot be replayed."""
    try:
        await driver.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=STATS_COMMAND)
        )
    except JsonRpcException as exc:
        raise SystemExit(
            f"{label}: the server does not answer {STATS_COMMAND} ({exc}): "
            "the replay reads the server's counters there"
        ) from exc
    return StatsProbe(driver)


async def run_one(
    args: argparse.Namespace,
    regions: Sequence[Region],
    typing: Typing,
    tree: Path | None,
    editor: str,
    log_file: Path,
) -> RunResult:
    """One server (this checkout's, or `tree`'s), one editor, every region."""
    label = tree_label(tree)
    cwd, env = None, None
    if tree is not None:
        cwd, env = tree, {**os.environ, "PYTHONPATH": str(tree.resolve())}
    log_file.unlink(missing_ok=True)
    driver = Driver("starcoder-ls-replay", request_timeout_s=args.request_timeout)
    await driver.start(server_args(args, log_file), dict(args.settings), cwd=cwd, env=env)
    try:
        status = await driver.wait_ready(timeout_s=600)
        if status["state"] != "ready":
            raise SystemExit(
                f"{label}: the model did not load: {status.get('message')}\n{driver.stderr_tail}"
            )
        probe = await stats_probe(driver, label)
        session = Session(driver, editor, typing=typing, seed=args.seed, probe=probe)
        start = await session.read_counters()
        tally = await session.run(regions)
        end = await session.read_counters()
        peak = rss_mb(driver.server_pid)[1] if driver.server_pid else 0.0
    finally:
        await driver.stop()
    return RunResult(
        label=label,
        editor=editor,
        model=f"{status['model']} ({status.get('device', '?')}, {numbers(status)})",
        tally=tally,
        counters=end - start,
        overhead_ms=overhead_samples(tally.answered, tally.reads),
        peak_rss_mb=peak,
    )


def _server_log(args: argparse.Namespace, run: int) -> Path:
    """One server log per run, never the client's own log file."""
    if args.log_file:
        return args.log_file.with_name(f"{args.log_file.stem}-server-{run}.log")
    return Path(tempfile.gettempdir()) / f"starcoder-ls-replay-{run}.log"


def heading(args: argparse.Namespace, regions: Sequence[Region], typing: Typing) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    machine = f"{platform.machine()}, {cores} CPU cores, Python {platform.python_version()}"
    where = str(args.path) if args.path else f"starcoder_ls/ at {DEFAULT_SOURCE_COMMIT[:7]}"
    chars = sum(len(region.typed) for region in regions)
    low, high = typing.pause
    return "\n".join(
        [
            f"## {date.today().isoformat()} · typing replay · {machine}",
            "",
            f"Command: `{shlex.join(['starcoder-ls', *sys.argv[1:]])}`",
            "",
            f"{len(regions)} region{'s' * (len(regions) != 1)} of {args.lines} lines "
            f"({chars} characters) from {where}, "
            f"seed {args.seed}: "
            + ", ".join(f"{region.path}:{region.line + 1}" for region in regions)
            + f". {typing.keys_per_second:g} keys/s, pauses {low:g}–{high:g} s at new lines "
            f"and region ends, at word boundaries with chance {typing.pause_chance:g}. "
            f"Server settings: `{json.dumps(args.settings)}` (the rest default).",
            "",
        ]
    )


def run_replay(args: argparse.Namespace) -> int:
    sources = path_sources(args.path) if args.path else project_sources()
    regions = choose_regions(sources, args.regions, args.lines, args.seed)
    if not regions:
        raise SystemExit(f"no {args.lines} consecutive code lines to retype in the sources")
    typing = Typing(
        keys_per_second=args.keys_per_second, pause=args.pause, pause_chance=args.pause_chance
    )
    editors = EDITORS if args.editor == "both" else (args.editor,)
    trees: list[Path | None] = [*args.server_tree, None]
    results: list[RunResult] = []
    for editor in editors:
        for tree in trees:
            print(f"replay: {tree_label(tree)}, {editor}", file=sys.stderr, flush=True)
            log_file = _server_log(args, len(results) + 1)
            results.append(asyncio.run(run_one(args, regions, typing, tree, editor, log_file)))
    print(heading(args, regions, typing) + "\n" + markdown(results))
    if args.json:
        report = {
            "regions": [{"path": r.path, "line": r.line + 1, "typed": r.typed} for r in regions],
            "typing": {
                "keys_per_second": typing.keys_per_second,
                "pause": list(typing.pause),
                "pause_chance": typing.pause_chance,
                "seed": args.seed,
            },
            "settings": args.settings,
            "runs": [result.to_json() for result in results],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    stale = sum(result.tally.stale for result in results)
    if stale:
        print(f"replay: {stale} stale answers (must be 0)", file=sys.stderr)
    return 1 if stale else 0
