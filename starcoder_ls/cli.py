"""`starcoder-ls` entry point: `serve` (the default), `demo`, `bench` and `eval`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starcoder_ls import __version__
from starcoder_ls.config import BACKENDS, DEVICES, DTYPES, EMBEDDED, Settings, describe, merge
from starcoder_ls.lsp.transport import setup_logging

log = logging.getLogger("starcoder_ls")


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="directory or hub id (e.g. bigcode/starcoder); default: the embedded SmolLM2-135M",
    )
    parser.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} or cuda:N")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--log-file", type=Path, default=None, help="log here instead of stderr")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="document text is logged only at debug",
    )


def _add_remote_flags(parser: argparse.ArgumentParser) -> None:
    """The remote back-end settings, for `serve` (the editor's settings override them, as
    they do --model; with --tcp they are the shared model's, whatever clients ask), and for
    the commands that start a server (`demo`, `bench replay`, `eval`), which pass them on."""
    parser.add_argument(
        "--backend",
        default="local",
        choices=BACKENDS,
        help="local: the model runs in this process; openai, tgi, ollama: ask a serving "
        "engine over HTTP (--endpoint), and --model then only names a tokenizer",
    )
    parser.add_argument(
        "--endpoint",
        default="",
        type=_endpoint,
        metavar="URL",
        help="the serving engine's base URL, e.g. http://gpu-box:8000/v1 "
        "(default: the backend's usual address on this machine)",
    )
    parser.add_argument(
        "--remote-model",
        default="",
        type=str.strip,
        metavar="NAME",
        help="the model name the engine expects (required for ollama; by default an "
        "OpenAI-compatible engine's first model)",
    )


def _endpoint(value: str) -> str:
    """--endpoint checked as the setting is, so that a typo is a usage error at once."""
    result = merge(Settings(), {"endpoint": value})
    if result.errors:
        raise argparse.ArgumentTypeError(
            "must be an http:// or https:// URL, e.g. http://gpu-box:8000/v1"
        )
    return result.settings.endpoint


def _bench_part(parts: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A `bench` subcommand whose model flags work before it as well as after it: unless
    given after, bench's values stay (set_defaults cannot do this: its defaults would
    overwrite bench's values)."""
    part = parts.add_parser(name, help=help_text)
    inherited = len(part._actions)
    _add_model_flags(part)
    for action in part._actions[inherited:]:
        action.default = argparse.SUPPRESS
    return part


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose arguments are added only once the command is named, so that
    `serve` imports no tool (and not pygls's client, which the tools drive a server with);
    `--help` lists every command from its help line alone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._builders: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def add_lazy(
        self, name: str, help_text: str, build: Callable[[argparse.ArgumentParser], None]
    ) -> None:
        self.add_parser(name, help=help_text)
        self._builders[name] = build

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        build = self._builders.pop(values[0], None)
        if build is not None:
            build(self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


def _add_serve_flags(serve: argparse.ArgumentParser) -> None:
    _add_model_flags(serve)
    _add_remote_flags(serve)
    serve.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (default)")
    serve.add_argument(
        "--tcp",
        type=int,
        metavar="PORT",
        help="listen on a TCP port instead, for any number of clients (0: any free port)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="TCP address (default: loopback)")
    serve.add_argument(
        "--tcp-token-file",
        type=Path,
        metavar="PATH",
        help="clients must send this file's token as initializationOptions.tcpToken",
    )
    serve.add_argument(
        "--draft-model",
        default="",
        metavar="MODEL",
        help="a small model sharing the model's tokenizer that proposes tokens for it to "
        "check, e.g. bigcode/tiny_starcoder for StarCoder (the draftModel setting)",
    )
    serve.add_argument(
        "--allow-downloads",
        action="store_true",
        help="fetch a hub model missing from the local cache (the allowDownloads setting)",
    )


def _add_bench_flags(bench: argparse.ArgumentParser) -> None:
    from starcoder_ls.tools.bench import add_arguments as add_bench_arguments
    from starcoder_ls.tools.bench_weights import add_weights_arguments
    from starcoder_ls.tools.replay.options import add_replay_arguments
    from starcoder_ls.tools.soak import add_soak_arguments

    _add_model_flags(bench)
    add_bench_arguments(bench)
    bench_parts = bench.add_subparsers(dest="bench_part", metavar="{replay,soak,weights}")
    replay = _bench_part(
        bench_parts, "replay", "retype regions of real files key by key over LSP, as an editor user"
    )
    _add_remote_flags(replay)
    add_replay_arguments(replay)
    soak = _bench_part(
        bench_parts,
        "soak",
        "10k requests while typing over LSP: memory, threads, caches stay flat",
    )
    add_soak_arguments(soak)
    weights = _bench_part(bench_parts, "weights", "float32, float16 products, int8 on a CPU")
    add_weights_arguments(weights)


def _add_eval_flags(evaluate: argparse.ArgumentParser) -> None:
    from starcoder_ls.tools.eval.options import add_eval_arguments

    _add_model_flags(evaluate)
    _add_remote_flags(evaluate)
    add_eval_arguments(evaluate)


def build_parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(f"  {name} (default {default!r})" for name, default, _ in describe())
    parser = argparse.ArgumentParser(
        prog="starcoder-ls",
        description="Inline code completions from StarCoder-family models over LSP.",
        epilog=f"Client settings (initializationOptions or 'starcoder'):\n{settings_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"starcoder-ls {__version__}")
    sub = parser.add_subparsers(dest="command", action=_Subcommands)
    _add_serve_flags(sub.add_parser("serve", help="run the language server (stdio unless --tcp)"))
    demo = sub.add_parser("demo", help="start the server, complete a sample file, print results")
    _add_model_flags(demo)
    _add_remote_flags(demo)
    demo.add_argument("--file", type=Path, default=None, help="source file to complete in")
    sub.add_lazy("bench", "measure speed and memory (engine and server)", _add_bench_flags)
    sub.add_lazy(
        "eval", "measure completion quality over LSP (HumanEval, next line)", _add_eval_flags
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    model = None if args.model in (None, EMBEDDED) else args.model
    return Settings(
        model=model,
        device=args.device,
        dtype=args.dtype,
        allow_downloads=getattr(args, "allow_downloads", False),
        backend=getattr(args, "backend", "local"),
        endpoint=getattr(args, "endpoint", ""),
        remote_model=getattr(args, "remote_model", ""),
        draft_model=getattr(args, "draft_model", ""),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_file)

    if args.command == "demo":
        from starcoder_ls.tools.demo import run_demo

        return run_demo(args)

    if args.command == "bench" and args.bench_part == "soak":
        from starcoder_ls.tools.soak import run_soak

        return run_soak(args)

    if args.command == "bench" and args.bench_part == "weights":
        from starcoder_ls.tools.bench_weights import run_weights

        return run_weights(args)

    if args.command == "bench" and args.bench_part == "replay":
        from starcoder_ls.tools.replay.runner import run_replay

        return run_replay(args)

    if args.command == "bench":
        from starcoder_ls.tools.bench import run_bench

        return run_bench(args)

    if args.command == "eval":
        from starcoder_ls.tools.eval.runner import run_eval

        return run_eval(args)

    from starcoder_ls.lsp.transport import leave_on_signals

    leave_on_signals()  # a Ctrl-C while the server starts: 130, and no traceback
    if args.tcp is not None:
        from starcoder_ls.lsp.tcp import run

        return run(settings_from_args(args), args.host, args.tcp, token_file=args.tcp_token_file)

    from starcoder_ls.lsp.server import create_server

    create_server(settings_from_args(args)).start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
