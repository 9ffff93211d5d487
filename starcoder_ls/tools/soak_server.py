"""The server of a soak run (`starcoder-ls bench soak`, soak.py): `create_server` as
`serve` builds it, answering from `SoakEngine` (instant, so that a run measures the server
rather than a model) or from a real model, and reporting the sizes of its caches and tables
(`SIZES_COMMAND`), which `serve` does not offer.

Run as `python -m starcoder_ls.tools.soak_server [--engine scripted|model] [--exact-cache N]
[--settings JSON] [--log-level LEVEL] [--log-file PATH]`: the soak gives the server's
starting settings as `initializationOptions` would carry them, so that this server parses
them with `config.merge` and takes nothing from the CLI, a layer above it.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starcoder_ls.lsp.transport import setup_logging
from starcoder_ls.tools.shared import settings_json
from starcoder_ls.tools.soak import ENGINES, SIZES_COMMAND

SOAK_MODEL = "soak (scripted)"
ANSWER_PREFIX = "value_"
"""Every `SoakEngine` completion starts so."""


class SoakEngine:
    """Answers at once, with a completion that depends on the prompt so that the caches
    see as many distinct entries as a model would give them."""

    def __init__(self) -> None:
        from starcoder_ls.engine.base import EngineInfo
        from starcoder_ls.engine.fim import get_template

        self.info = EngineInfo(
            model=SOAK_MODEL, template=get_template("starcoder"), context_window=2048
        )

    def count_tokens(self, text: str) -> int:
        """About four characters a token, as code averages with StarCoder's tokenizer."""
        return len(text) // 4 + 1

    def generate(self, prompt: str, params: Any, cancel: Any, **kwargs: Any) -> Any:
        from starcoder_ls.engine.base import Generation, GenerationResult

        digest = zlib.crc32(prompt.encode("utf-8", "surrogatepass"))
        rows = max(1, params.n) if params.temperature > 0 else 1
        choices = tuple(
            Generation(
                text=f"{ANSWER_PREFIX}{(digest + row) % 100_003}", tokens=2, stop_reason="eos"
            )
            for row in range(rows)
        )
        return GenerationResult(
            choices=choices, prompt_tokens=self.count_tokens(prompt), generate_ms=0.0
        )

    def close(self) -> None:
        pass


def server_sizes(server: Any) -> dict[str, int]:
    """What the server keeps per document, per request or per answer."""
    service = server.service
    sizes = {f"cache.{name}": value for name, value in service.cache.sizes().items()}
    sizes["scheduler.tickets"] = len(service.scheduler)
    sizes["documents"] = len(server.workspace.text_documents)
    sizes["lastEdit"] = len(server.last_edit)
    sizes["acceptances"] = len(server.acceptances)
    # pygls' table of running handlers: this sizes request, and nothing left behind.
    sizes["requestFutures"] = len(server.protocol._request_futures)
    prefix = getattr(service.model.engine, "prefix_cache", None)
    if prefix is not None:
        sizes["prefixCache.entries"] = len(prefix)
        sizes["prefixCache.entriesMax"] = prefix.max_entries
        sizes["prefixCache.tokens"] = prefix.tokens
        sizes["prefixCache.tokensMax"] = prefix.max_tokens
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soak_server")
    parser.add_argument("--engine", choices=ENGINES, default="scripted")
    parser.add_argument("--exact-cache", type=int, default=None)
    parser.add_argument("--settings", type=settings_json, default={}, metavar="JSON")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument("--log-file", type=Path, default=None)
    return parser


def serve(argv: Sequence[str]) -> int:
    """The server of a soak run, started with the settings the soak gives it."""
    from starcoder_ls.completion.cache import CompletionCache
    from starcoder_ls.completion.lifecycle import load_engine
    from starcoder_ls.config import Settings, merge
    from starcoder_ls.lsp.server import create_server

    args = _parser().parse_args(list(argv))
    setup_logging(args.log_level, args.log_file)
    merged = merge(Settings(), args.settings)
    if merged.errors:
        raise SystemExit(f"soak_server: {'; '.join(merged.errors)}")
    factory = load_engine if args.engine == "model" else (lambda settings, progress: SoakEngine())
    server = create_server(merged.settings, factory)
    if args.exact_cache is not None:
        server.service.cache = CompletionCache(maxsize=args.exact_cache)
    server.command(SIZES_COMMAND)(lambda ls, *arguments: server_sizes(ls))
    server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
