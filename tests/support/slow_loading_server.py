"""`scripted_server` with an engine that takes its time to load, for what the server does
while a model loads (signals, above all).

`--load-s SECONDS`: the engine factory spends that long before returning the scripted
engine, writing a line to stderr every few milliseconds as a loading model writes its
progress and warnings: a thread inside such a write when the interpreter finalises is what
turns an interrupted load into "Fatal Python error: _enter_buffered_busy".
`--loading-file FILE` is created when the load starts, so a test knows it is under way.
The other arguments are `scripted_server`'s.

Run as `python -m tests.support.slow_loading_server` from the repository's root.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from starcoder_ls.cli import build_parser, settings_from_args, setup_logging
from starcoder_ls.engine.base import Engine
from tests.support.scripted_server import engine_factory

WRITE_EVERY_S = 0.005


def main(argv: list[str] | None = None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--load-s", type=float, required=True)
    own.add_argument("--loading-file", type=Path, required=True)
    own.add_argument("--script", type=Path, default=None)
    own.add_argument("--record", type=Path, default=None)
    ours, rest = own.parse_known_args(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(["serve", *rest])
    setup_logging(args.log_level, args.log_file)
    load = engine_factory(ours.script, ours.record)

    def load_slowly(*load_args: Any, **load_kwargs: Any) -> Engine:
        ours.loading_file.touch()
        deadline = time.monotonic() + ours.load_s
        step = 0
        while time.monotonic() < deadline:
            step += 1
            sys.stderr.write(f"loading: step {step}\n")
            sys.stderr.flush()
            time.sleep(WRITE_EVERY_S)
        return load(*load_args, **load_kwargs)

    from starcoder_ls.lsp.server import create_server

    create_server(settings_from_args(args), load_slowly).start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
