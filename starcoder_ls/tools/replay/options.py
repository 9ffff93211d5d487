"""`starcoder-ls bench replay` arguments, apart from the harness so that building the CLI's
parser imports neither pygls nor the harness."""

from __future__ import annotations

import argparse
from pathlib import Path

from starcoder_ls.tools.shared import settings_json

EDITOR_CHOICES = ("vscode", "neovim", "both")
DEFAULT_SOURCE_COMMIT = "9c18e7f7a1c6e57f12632d2f9cc3a6ab61be0ebd"
"""The project's own sources at this commit are the default text to retype: real code
that stays the same while the checkout moves on."""


def _seconds_range(value: str) -> tuple[float, float]:
    low, sep, high = value.partition("-")
    try:
        bounds = (float(low), float(high if sep else low))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("must be seconds or a range, e.g. 0.6-1.2") from exc
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError("must be a range of seconds from low to high")
    return bounds


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return number


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--regions", type=int, default=6, help="regions to retype (default 6)")
    parser.add_argument("--lines", type=int, default=3, help="lines per region (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="regions and key timing (default 0)")
    parser.add_argument(
        "--keys-per-second", type=_positive, default=9.0, help="typing speed (default 9)"
    )
    parser.add_argument(
        "--pause",
        type=_seconds_range,
        default=(0.6, 1.2),
        metavar="LOW-HIGH",
        help="thinking pauses in seconds, at each new line, at the end of a region and by "
        "chance at word boundaries (default 0.6-1.2)",
    )
    parser.add_argument(
        "--pause-chance",
        type=float,
        default=0.1,
        help="chance of a pause at a word boundary (default 0.1)",
    )
    parser.add_argument(
        "--editor",
        choices=EDITOR_CHOICES,
        default="vscode",
        help="vscode: a request per keystroke, the previous one cancelled; neovim (0.12): a "
        "request 200 ms after the last key; both: one run each (default vscode)",
    )
    parser.add_argument(
        "--path",
        type=Path,
        default=None,
        help="Python file or folder to take regions from (default: this project's "
        f"starcoder_ls/ at commit {DEFAULT_SOURCE_COMMIT[:7]}, read with git)",
    )
    parser.add_argument(
        "--server-tree",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also run the server of another checkout (e.g. `git worktree add /tmp/before "
        "<commit>`), before this checkout's, with the same typing; repeatable",
    )
    parser.add_argument(
        "--settings",
        type=settings_json,
        default={},
        help="server settings as JSON (initializationOptions), e.g. '{\"debounceMs\": 0}'",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the answers still due at the end of a region",
    )
