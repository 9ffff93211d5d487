"""`starcoder-ls eval`: draw tasks, ask the server for each, run the programs, report.

The raw baseline comes from the same server: after the pipeline's answer, the harness turns
the `postprocess` setting off, asks again at the same cursor and turns it back on. The
service caches the model's text from before post-processing and keeps that cache across
this toggle, so the second answer is the same generation, unfiltered, at no model cost:
the rows differ only by post-processing (and the raw row's cut at the first newline).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starcoder_ls.tools.eval import sandbox
from starcoder_ls.tools.eval.client import EvalClient
from starcoder_ls.tools.eval.nextline import nextline_tasks
from starcoder_ls.tools.eval.per_language import by_language, language_table
from starcoder_ls.tools.eval.progress import Progress
from starcoder_ls.tools.eval.report import VARIANTS, Item, summarise, table, variants
from starcoder_ls.tools.eval.scoring import apply
from starcoder_ls.tools.eval.server_log import ServerLog
from starcoder_ls.tools.eval.tasks import Task, load_humaneval, sample
from starcoder_ls.tools.shared import REPOSITORY, server_args

LOAD_TIMEOUT_S = 900.0


def build_tasks(args: argparse.Namespace) -> tuple[list[Task], int, Path]:
    """(the drawn tasks, how many there were to draw from, the folder their URIs live in);
    with `--only`, the drawn tasks it names."""
    tasks, available, root = _drawn_tasks(args)
    only = getattr(args, "only", None)
    if only is None:
        return tasks, available, root
    wanted = {line.strip() for line in only.read_text().splitlines() if line.strip()}
    unknown = wanted - {task.task_id for task in tasks}
    if unknown:
        raise SystemExit(f"--only names tasks this draw does not have: {sorted(unknown)[:5]}")
    return [task for task in tasks if task.task_id in wanted], available, root


def _drawn_tasks(args: argparse.Namespace) -> tuple[list[Task], int, Path]:
    if args.benchmark == "nextline":
        if args.path is None:
            raise SystemExit(
                "starcoder-ls eval nextline needs --path FOLDER (sources to cut lines in)"
            )
        root = args.path.resolve()
        tasks, available = nextline_tasks(
            root,
            args.limit,
            args.seed,
            open_related=args.open_related,
            per_language=args.per_language,
        )
        return tasks, available, root if root.is_dir() else root.parent
    every = load_humaneval(args.data, args.benchmark, cursor=args.cursor)
    root = Path(tempfile.gettempdir()) / "starcoder-eval" / args.benchmark
    return sample(every, args.limit, args.seed), len(every), root


def git_commit() -> str:
    """Short commit of the checkout the harness runs from, `+dirty` when it has changes."""
    repo = REPOSITORY
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


async def ask_all(
    client: EvalClient,
    tasks: list[Task],
    *,
    raw: bool,
    progress: Progress,
    invoked: bool = False,
    log: ServerLog | None = None,
) -> list[Item]:
    """Ask for every task; `invoked` sends the pipeline's request as an explicit one (the
    first of its several candidates is scored). The raw baseline is always an automatic
    request: the greedy generation, from the cache. `log` (the server's) tells each
    pipeline request's mode and tokens."""
    items: list[Item] = []
    exact = empty = 0
    for done, task in enumerate(tasks, start=1):
        item = Item(task=task)
        client.open(task)
        answer = await client.complete(task, invoked=invoked)
        if log is not None:
            item.generation = log.take()
        baseline = None
        if raw:
            await client.configure({"postprocess": False})
            baseline = await client.complete(task)
            await client.configure({"postprocess": True})
        if log is not None:
            log.new_lines()  # the raw request's cache hit and the settings round trips
        item.results = variants(task, answer, baseline, humaneval=task.check is not None)
        client.close(task)
        items.append(item)
        exact += item.results["pipeline"].exact
        empty += item.results["pipeline"].empty
        progress.update(
            done, f"pipeline: {exact} exact, {empty} empty, last {answer.latency_ms:.0f} ms"
        )
    return items


def run_checks(items: list[Item], args: argparse.Namespace) -> None:
    """Run every HumanEval program (after all requests, so they never slow a measured one)."""
    jobs: list[tuple[Item, str, str]] = []
    for item in items:
        check = item.task.check
        if check is None:
            continue
        for name, scored in item.results.items():
            completed = apply(item.task, scored.edit)
            jobs.append((item, name, check.program(completed)))
    if not jobs:
        return
    progress = Progress("programs", len(jobs))
    outcomes = sandbox.run_programs(
        [source for _, _, source in jobs],
        timeout_s=args.timeout,
        workers=args.workers,
        on_done=progress.update,
    )
    for (item, name, _), outcome in zip(jobs, outcomes, strict=True):
        item.results[name].passed = outcome.passed
        item.results[name].detail = outcome.detail


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run; returns the report (what `--json` writes)."""
    tasks, available, root = build_tasks(args)
    if not tasks:
        raise SystemExit(f"no tasks for {args.benchmark}: nothing to measure")
    settings = {**args.settings, "debounceMs": 0, "postprocess": True}
    started = time.monotonic()
    commit = git_commit()  # now: the server about to start loads the code as it is now
    items, status = await _ask_server(args, tasks, root, settings)
    run_checks(items, args)
    return {
        "run": {
            "benchmark": args.benchmark,
            "tasks": len(items),
            "tasks_available": available,
            "limit": args.limit,
            "per_language": getattr(args, "per_language", None),
            "only": None if getattr(args, "only", None) is None else str(args.only),
            "seed": args.seed,
            "cursor": args.cursor if args.benchmark in ("single-line", "multi-line") else None,
            "path": str(args.path) if args.benchmark == "nextline" else str(args.data),
            "model": status["model"],
            "device": status.get("device", ""),
            "dtype": status.get("dtype", ""),
            "template": status.get("template", ""),
            "settings": settings,
            "trigger": "invoked" if args.invoked else "automatic",
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
            "commit": commit,
            "duration_s": time.monotonic() - started,
            "argv": sys.argv[1:],
        },
        "summary": {name: summarise(items, name) for name in VARIANTS if name in items[0].results},
        "languages": by_language(items) if args.benchmark == "nextline" else {},
        "items": [item.to_json() for item in items],
    }


async def _ask_server(
    args: argparse.Namespace, tasks: list[Task], root: Path, settings: dict[str, Any]
) -> tuple[list[Item], dict[str, str]]:
    """Start the server, ask every task, stop it: the items, and the status it loaded with."""
    log_file = args.log_file or Path(tempfile.gettempdir()) / "starcoder-ls-eval.log"
    client = EvalClient(root, request_timeout_s=args.request_timeout)
    log = ServerLog(log_file)
    print(f"starting the server (log: {log_file})", file=sys.stderr)
    await client.start(server_args(args, log_file), settings)
    try:
        status = await client.wait_ready(LOAD_TIMEOUT_S)
        if status["state"] != "ready":
            reason = f"{status['state']} {status.get('message', '')}"
            raise SystemExit(
                f"model {status['model']} is not ready: {reason}\n{client.stderr_tail}"
            )
        print(
            f"model {status['model']} ready on {status['device']} ({status['message']})",
            file=sys.stderr,
        )
        progress = Progress(args.benchmark, len(tasks))
        items = await ask_all(
            client,
            tasks,
            raw=not args.no_raw,
            progress=progress,
            invoked=args.invoked,
            log=log,
        )
    finally:
        await client.stop()
    return items, status


def _json_safe(value: Any) -> Any:
    """NaN is not JSON: write null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_eval(args: argparse.Namespace) -> int:
    report = asyncio.run(evaluate(args))
    sys.stdout.write(table(report) + language_table(report["languages"]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_json_safe(report), indent=1, ensure_ascii=False) + "\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 0
