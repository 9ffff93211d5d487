"""`starcoder-ls bench soak`: thousands of completion requests while files are typed key by
key, over LSP against the real server, watching that the server's memory, thread count
and caches stay flat (issue 10: 10k requests, RSS and threads within 5%, every cache
within its bound).

The server is `create_server` as `serve` builds it, started by soak_server.py so that it
can answer from an instant scripted engine (the default: the run measures the server, not
a model) or load a real model (`--engine model`), and report the sizes of its caches and
tables, which `serve` does not offer.

Only argparse and the standard library are imported here at module level: the CLI builds
its parser from `add_soak_arguments` without loading pygls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starcoder_ls.tools.shared import PACKAGE

log = logging.getLogger(__name__)

SIZES_COMMAND = "starcoder.soak.sizes"
"""workspace/executeCommand on the soak's server (soak_server.py): entries held by each
cache and table. Defined here, which the server imports, never the reverse: the CLI
imports this module to build its parser."""
ENGINES = ("scripted", "model")

_SLOW_ANSWER_S = 0.05
"""A keystroke arriving while the last request is still unanswered after this long cancels
it, as an editor does."""


def add_soak_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=10_000, help="requests (default 10000)")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="scripted",
        help="scripted: instant answers, the server alone is measured (default); "
        "model: the model --model names (default: the embedded one)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        default=None,
        help="file to type, again for more (default: this package's own modules in turn)",
    )
    parser.add_argument(
        "--document-chars",
        type=int,
        default=2000,
        help="characters typed into each document before the next is opened (default 2000)",
    )
    parser.add_argument(
        "--sample-every", type=int, default=250, help="requests between samples (default 250)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="requests before the baseline sample (default: a tenth of them, at most 1000)",
    )
    parser.add_argument(
        "--tolerance", type=float, default=0.05, help="allowed growth over the baseline (0.05)"
    )
    parser.add_argument(
        "--debounce-ms", type=int, default=0, help="the server's debounceMs (default 0)"
    )
    parser.add_argument(
        "--exact-cache",
        type=int,
        default=None,
        help="entries of the server's exact cache (default: its own bound); a small one "
        "lets a short run reach it",
    )


# -- the client side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    requests: int
    rss_mb: float
    threads: int
    sizes: dict[str, int]


@dataclass
class SoakResult:
    samples: list[Sample] = field(default_factory=list)
    warmup: int = 0
    answered: int = 0
    """Requests answered with a completion."""
    last_answer: str = ""
    """The text of the last completion, to show what came back."""
    empty: int = 0
    cancelled: int = 0
    errors: int = 0
    documents: int = 0
    seconds: float = 0.0
    open_documents: int = 1
    """Documents the client keeps open at once: the bound of per-document tables."""

    @property
    def requests(self) -> int:
        return self.samples[-1].requests if self.samples else 0

    @property
    def baseline(self) -> Sample:
        """The first sample after the warm-up (imports, first allocations, caches filling)."""
        return next((s for s in self.samples if s.requests >= self.warmup), self.samples[-1])

    def growth(self, name: str) -> float:
        """Last over baseline, less one: 0.02 is 2% more."""
        first, last = getattr(self.baseline, name), getattr(self.samples[-1], name)
        return last / first - 1 if first else 0.0

    def peak(self, name: str) -> float:
        return max(getattr(s, name) for s in self.samples)

    def bounds(self) -> dict[str, int]:
        sizes = self.samples[-1].sizes
        # What reports its own bound ("cache.exactMax" for "cache.exact"), then the tables
        # kept per open document, and pygls' table of running requests.
        bounds = {name[: -len("Max")]: size for name, size in sizes.items() if name.endswith("Max")}
        for name in ("scheduler.tickets", "documents", "lastEdit", "acceptances"):
            bounds[name] = self.open_documents
        bounds["requestFutures"] = 1
        return bounds

    def over_bounds(self) -> list[str]:
        """Every table that held more than its bound in any sample."""
        over = []
        for name, bound in self.bounds().items():
            most = max(s.sizes.get(name, 0) for s in self.samples)
            if most > bound:
                over.append(f"{name}: {most} > {bound}")
        return over

    def problems(self, tolerance: float) -> list[str]:
        found = list(self.over_bounds())
        for name in ("rss_mb", "threads"):
            if self.growth(name) > tolerance:
                found.append(f"{name} grew {self.growth(name):.1%} (more than {tolerance:.0%})")
        if self.errors:
            found.append(f"{self.errors} requests answered with an error")
        return found

    def markdown(self, tolerance: float) -> str:
        base, last = self.baseline, self.samples[-1]
        rows = [
            "| | first | baseline | last | peak | last vs baseline |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        first = self.samples[0]
        for label, name, unit in (("RSS", "rss_mb", " MB"), ("threads", "threads", "")):
            values = [getattr(s, name) for s in (first, base, last)]
            cells = " | ".join(f"{v:.1f}{unit}" if unit else f"{v}" for v in values)
            peak = self.peak(name)
            peak_cell = f"{peak:.1f}{unit}" if unit else f"{peak}"
            rows.append(f"| {label} | {cells} | {peak_cell} | {self.growth(name):+.1%} |")
        for name, bound in self.bounds().items():
            most = max(s.sizes.get(name, 0) for s in self.samples)
            rows.append(
                f"| {name} (bound {bound}) | {first.sizes.get(name, 0)} | "
                f"{base.sizes.get(name, 0)} | {last.sizes.get(name, 0)} | {most} | |"
            )
        problems = self.problems(tolerance)
        verdict = "**not flat**: " + "; ".join(problems) if problems else "flat within bounds"
        summary = (
            f"{self.requests} requests over {self.documents} typed documents in "
            f"{self.seconds:.0f} s: {self.answered} answered, {self.empty} empty, "
            f"{self.cancelled} cancelled, {self.errors} errors; baseline after "
            f"{base.requests} requests. Verdict: {verdict}."
        )
        return "\n".join([summary, "", *rows])


def default_sources() -> list[Path]:
    """This package's own modules: real code of many shapes, always at hand."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.stat().st_size > 2000)


def proc_sample(pid: int) -> tuple[float, int]:
    """(RSS in MB, threads) of a process, from /proc; (0, 0) where there is none."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0, 0
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


@dataclass(frozen=True, kw_only=True)
class SoakPlan:
    """How a soak runs: `requests` in all, a sample every `sample_every`, the baseline after
    `warmup` (None: a tenth of them, at most 1000), against a server started with
    `server_args` that answers from `engine` with the settings and cache bound given."""

    requests: int
    server_args: tuple[str, ...] = ()
    engine: str = "scripted"
    sample_every: int = 250
    warmup: int | None = None
    debounce_ms: int = 0
    exact_cache: int | None = None


async def soak(plan: SoakPlan, texts: Sequence[str]) -> SoakResult:
    """Type `texts` in turn, each into a new document closed when typed, asking for an
    inline completion after every keystroke, until `plan.requests` were sent."""
    from lsprotocol import types

    from starcoder_ls.tools.driver import Driver

    requests, sample_every = plan.requests, plan.sample_every
    driver = Driver("starcoder-ls-soak", request_timeout_s=120)
    command = [sys.executable, "-m", "starcoder_ls.tools.soak_server", "--engine", plan.engine]
    if plan.exact_cache is not None:
        command += ["--exact-cache", str(plan.exact_cache)]
    warmup = min(requests // 10, 1000) if plan.warmup is None else plan.warmup
    result = SoakResult(warmup=warmup)
    await driver.start(list(plan.server_args), {"debounceMs": plan.debounce_ms}, command=command)
    try:
        status = await driver.wait_ready(600)
        if status["state"] != "ready":
            raise RuntimeError(f"the server did not load its model: {status}\n{driver.stderr_tail}")
        pid = driver.server_pid
        assert pid is not None

        async def sample(count: int) -> None:
            sizes = await driver.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=SIZES_COMMAND)
            )
            rss, threads = proc_sample(pid)
            result.samples.append(Sample(count, rss, threads, dict(sizes)))
            log.info("soak: %d requests, %.1f MB, %d threads", count, rss, threads)

        started = time.perf_counter()
        await sample(0)
        typist = _Typist(driver, result)
        while typist.sent < requests:
            text = texts[result.documents % len(texts)]
            uri = f"file:///soak/{result.documents}.py"
            result.documents += 1
            async for count in typist.type(uri, text, requests):
                if count % sample_every == 0 or count == requests:
                    await typist.settle(wait_s=driver.timeout_s)
                    await sample(count)
        if result.samples[-1].requests != typist.sent:
            await sample(typist.sent)
        result.seconds = time.perf_counter() - started
    finally:
        await driver.stop()
    return result


class _Typist:
    """Types a text into a document as an editor user: one change per key, one inline
    request after it; a request still unanswered at the next key is cancelled."""

    def __init__(self, driver: Any, result: SoakResult) -> None:
        self.driver = driver
        self.result = result
        self.sent = 0
        self._pending: tuple[str, asyncio.Future[Any]] | None = None

    async def type(self, uri: str, text: str, limit: int) -> Any:
        from lsprotocol import types

        from starcoder_ls.tools.driver import inline_params

        self.driver.set_text(uri, "")
        line, line_text = 0, ""
        for key in text:
            if self.sent >= limit:
                break
            await self.settle(wait_s=_SLOW_ANSWER_S)
            self.driver.insert(uri, [(line, len(line_text), line_text, key)])
            if key == "\n":
                line, line_text = line + 1, ""
            else:
                line_text += key
            params = inline_params(uri, line, len(line_text), line_text)
            msg_id, future = self.driver.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params)
            self._pending = (msg_id, asyncio.wrap_future(future))
            self.sent += 1
            await self.settle(wait_s=0)  # takes the answer in when it is already there
            yield self.sent
        await self.settle(wait_s=self.driver.timeout_s)
        self.driver.close(uri)

    async def settle(self, *, wait_s: float) -> None:
        """Wait up to `wait_s` for the last request's answer; cancel it if it is not there
        by then (a positive wait) and take the answer or the cancellation."""
        if self._pending is None:
            return
        msg_id, answer = self._pending
        if wait_s <= 0:
            await asyncio.sleep(0)
            if not answer.done():
                return
        done, _ = await asyncio.wait({answer}, timeout=wait_s)
        if not done:
            self.driver.cancel(msg_id)
        self._pending = None
        self._count(*await _outcome(answer))

    def _count(self, outcome: str, text: str = "") -> None:
        if outcome == "answered":
            self.result.answered += 1
            self.result.last_answer = text
        elif outcome == "empty":
            self.result.empty += 1
        elif outcome == "cancelled":
            self.result.cancelled += 1
        else:
            self.result.errors += 1
            log.warning("soak: %s", outcome)


async def _outcome(answer: asyncio.Future[Any]) -> tuple[str, str]:
    """What became of a request, and the first item's text when it was answered."""
    from lsprotocol import types
    from pygls.exceptions import JsonRpcException

    from starcoder_ls.tools.driver import item_text

    try:
        items = await asyncio.wait_for(answer, 120)
    except JsonRpcException as exc:
        return ("cancelled" if "cancel" in str(exc).lower() else f"error: {exc}"), ""
    except TimeoutError:
        return "error: no answer in 120 s", ""
    if isinstance(items, types.InlineCompletionList):
        items = items.items
    return ("answered", item_text(items[0])) if items else ("empty", "")


def run_soak(args: argparse.Namespace) -> int:
    sources = args.source or default_sources()
    texts = [path.read_text(encoding="utf-8")[: args.document_chars] for path in sources]
    server_args = ["--log-level", args.log_level]
    if args.log_file:
        server_args += ["--log-file", str(args.log_file)]
    if args.engine == "model":
        settings = {"model": args.model, "device": args.device, "dtype": args.dtype}
        server_args += ["--settings", json.dumps(settings)]
    plan = SoakPlan(
        requests=args.requests,
        server_args=tuple(server_args),
        engine=args.engine,
        sample_every=args.sample_every,
        warmup=args.warmup,
        debounce_ms=args.debounce_ms,
        exact_cache=args.exact_cache,
    )
    result = asyncio.run(soak(plan, texts))
    print(result.markdown(args.tolerance))
    return 1 if result.problems(args.tolerance) else 0
