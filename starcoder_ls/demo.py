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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from starcoder_ls.server import STATUS_COMMAND

DIM, BOLD, RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


@dataclass(frozen=True)
class Hole:
    line: int
    column: int
    expected: str


def choose_holes(text: str, count: int = 4) -> list[Hole]:
    """Cursor positions worth showing: the rest of `return`, `raise` and assignment lines."""
    holes: list[Hole] = []
    for number, line in enumerate(text.split("\n")):
        stripped = line.strip()
        for keyword in ("return ", "raise ", "+= ", "print("):
            at = line.find(keyword)
            if at >= 0 and len(stripped) > len(keyword) + 2:
                column = at + len(keyword)
                holes.append(Hole(number, column, line[column:]))
                break
    step = max(len(holes) // count, 1)
    return holes[::step][:count]


def _styled(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def show(line_prefix: str, ghost: str, line_suffix: str, color: bool) -> str:
    ghost_line = ghost.split("\n")
    first = f"{DIM}{ghost_line[0]}{RESET}" if color else f"⟨{ghost_line[0]}⟩"
    shown = line_prefix + first + line_suffix
    for extra in ghost_line[1:]:
        shown += "\n" + (f"{DIM}{extra}{RESET}" if color else f"⟨{extra}⟩")
    return shown


async def _wait_ready(client: LanguageClient, timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=STATUS_COMMAND)
        )
        if status["state"] in ("ready", "error") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.25)


async def _demo(args: argparse.Namespace) -> int:
    sample = args.file or resources.files("starcoder_ls.samples") / "inventory.py"
    original = Path(str(sample)).read_text()
    holes = choose_holes(original)
    color = _styled(sys.stdout)

    log_file = args.log_file or Path(tempfile.gettempdir()) / "starcoder-ls-demo.log"
    command = [sys.executable, "-m", "starcoder_ls", "serve", "--log-file", str(log_file)]
    for flag in ("model", "device", "dtype"):
        if getattr(args, flag, None):
            command += [f"--{flag}", str(getattr(args, flag))]
    client = LanguageClient("starcoder-ls-demo", "0.1")
    print(f"starting: {' '.join(command)}  (log: {log_file})")
    started = time.perf_counter()
    await client.start_io(*command)
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities()
                )
            ),
            initialization_options={"debounceMs": 0},
        )
    )
    client.initialized(types.InitializedParams())
    status = await _wait_ready(client, timeout_s=600)
    print(
        f"model {status['model']}: {status['state']} on {status.get('device') or '?'} "
        f"{status.get('dtype', '')} ({status.get('message', '')}; "
        f"{time.perf_counter() - started:.1f} s since start)\n"
    )
    failures = 0 if status["state"] == "ready" else 1
    uri = Path(str(sample)).resolve().as_uri()
    for version, hole in enumerate(holes, start=1):
        lines = original.split("\n")
        line_prefix = lines[hole.line][: hole.column]
        lines[hole.line] = line_prefix
        text = "\n".join(lines)
        if version == 1:
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=version, text=text
                    )
                )
            )
        else:
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
        t0 = time.perf_counter()
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=hole.line, character=hole.column),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        ms = (time.perf_counter() - t0) * 1000
        items = result.items if result else []
        ghost = items[0].insert_text if items else ""
        ghost = ghost if isinstance(ghost, str) else ghost.value
        label = f"{BOLD}line {hole.line + 1}{RESET}" if color else f"line {hole.line + 1}"
        print(f"{label}  ({ms:.0f} ms, {len(items)} suggestion{'s' * (len(items) != 1)})")
        print("  " + show(line_prefix, ghost, "", color).replace("\n", "\n  "))
        print(f"  original: {line_prefix}{hole.expected}\n")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return failures


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))
