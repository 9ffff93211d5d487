"""`starcoder-ls eval` arguments, kept apart from the harness so that building the CLI's
parser imports neither pygls nor the harness."""

from __future__ import annotations

import argparse
from pathlib import Path

from starcoder_ls.tools.shared import REPOSITORY, settings_json

BENCHMARKS = ("single-line", "multi-line", "random-span", "nextline")
DEFAULT_DATA = REPOSITORY.parent / "shared" / "data" / "humaneval-infilling"
"""`../shared/data/humaneval-infilling` next to the repository (the team's shared data)."""
DEFAULT_LIMIT = 100
"""About 3 to 15 minutes with the embedded model on 2 CPU cores, depending on the benchmark."""


def _limit(value: str) -> int | None:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 (all tasks) or more")
    return number or None


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    _add_task_arguments(parser)
    _add_asking_arguments(parser)


def _add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """Which tasks: the benchmark and its draw."""
    parser.add_argument(
        "benchmark",
        choices=BENCHMARKS,
        help="HumanEval infilling (single-line, multi-line, random-span) or next line in --path",
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"tasks to draw with --seed (default {DEFAULT_LIMIT}; 0: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the task draw (default 0)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"HumanEval infilling folder ({DEFAULT_DATA})",
    )
    parser.add_argument(
        "--path", type=Path, default=None, help="nextline: folder or file of sources"
    )
    parser.add_argument(
        "--per-language",
        type=_positive,
        default=None,
        metavar="N",
        help="nextline: draw N lines in each language of --path instead of --limit in all",
    )
    parser.add_argument(
        "--only",
        type=Path,
        default=None,
        metavar="FILE",
        help="ask only the drawn tasks whose ids FILE lists (one a line): part of a draw again, "
        "e.g. where one setting can change the answer",
    )


def _add_asking_arguments(parser: argparse.ArgumentParser) -> None:
    """How the tasks are asked, checked and reported."""
    parser.add_argument(
        "--invoked",
        action="store_true",
        help="ask as an explicit request (greedy + sampled candidates) and score the first "
        "item; default: automatic requests, one candidate",
    )
    parser.add_argument(
        "--open-related",
        type=int,
        default=0,
        metavar="N",
        help="nextline: also open up to N files of --path that the task's file names "
        "(imports), as other editor tabs, for cross-file context (default 0)",
    )
    parser.add_argument(
        "--cursor",
        choices=("indent", "line-start"),
        default="indent",
        help="whole-line holes: cursor after the hole's indentation (as after the editor's "
        "auto-indent, default) or at column 0 of an empty line",
    )
    parser.add_argument(
        "--no-raw", action="store_true", help="skip the raw baseline (model text, first line)"
    )
    parser.add_argument(
        "--settings",
        type=settings_json,
        default={},
        help="extra server settings as JSON, e.g. '{\"maxNewTokens\": 64}' (debounceMs is 0)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per program run")
    parser.add_argument("--workers", type=int, default=2, help="programs run in parallel")
    parser.add_argument(
        "--request-timeout", type=float, default=300.0, help="seconds to wait for one completion"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
