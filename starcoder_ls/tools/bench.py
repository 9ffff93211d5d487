"""`starcoder-ls bench`: speed and memory figures anyone can reproduce (see docs/benchmarks.md).

Two parts, one run:
- engine: load time and resident memory, prompt processing and decode speed, and how
  long a cancel takes to stop a generation (it should be at most one decode step);
- server: end-to-end latency of inline-completion requests over LSP (stdio), as an editor
  sees it, for a cold request, an exact cache hit and typed-ahead reuse.

`--reuse-check` measures instead what KV reuse saves (a cold request on a long prompt
against one typed character after it) and what `LocalEngine.generate` costs per decoded
token over a bare `model.generate` of the same model (`--profile` adds where it goes).

`--speculation-check` measures greedy decode tokens/s without and with prompt lookup
(each `--prompt-lookup` value) and with `--draft-model`, and that the answers are the same.
`--random-weights starcoder` measures StarCoder's shape with random weights (bench_random.py).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import threading
import time
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.tools.driver import Driver, item_text
from starcoder_ls.tools.shared import Report, choose_holes, rss_mb, server_args

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _engine_settings(args: argparse.Namespace) -> EngineSettings:
    return EngineSettings(model=args.model, device=args.device, dtype=args.dtype)


def bench_engine(args: argparse.Namespace, report: Report) -> None:
    from starcoder_ls.engine.local import LocalEngine

    before, _ = rss_mb()
    started = time.perf_counter()
    engine = LocalEngine.load(_engine_settings(args))
    report.add("model", f"{engine.info.model} ({engine.info.device}, {engine.info.dtype})")
    report.add("load time", f"{time.perf_counter() - started:.1f} s")
    current, _ = rss_mb()
    report.add("resident memory after load", f"{current:.0f} MB (+{current - before:.0f} MB)")

    sample = (resources.files("starcoder_ls.samples") / "inventory.py").read_text()
    prompt = (sample * 8)[: args.prompt_chars]
    never = threading.Event()
    prefill_ms: list[float] = []
    for _ in range(args.repeat):
        result = engine.generate(prompt, GenerationParams(max_new_tokens=1), never)
        prefill_ms.append(result.generate_ms)
    tokens = result.prompt_tokens
    best = min(prefill_ms)
    report.add(
        f"prompt processing ({tokens} tokens)",
        f"{best:.0f} ms ({tokens / best * 1000:.0f} tokens/s)",
    )

    decode_rates: list[float] = []
    for _ in range(args.repeat):
        result = engine.generate(prompt, GenerationParams(max_new_tokens=args.new_tokens), never)
        generated = result.choices[0].tokens
        decode_ms = max(result.generate_ms - best, 1e-3)
        decode_rates.append(max(generated - 1, 1) / decode_ms * 1000)
    report.add(
        f"decode ({args.new_tokens} new tokens max, greedy)",
        f"{statistics.median(decode_rates):.1f} tokens/s (median of {args.repeat})",
    )

    cancel = threading.Event()
    stamps: dict[str, float] = {}

    def on_token(count: int) -> None:
        if count == 4 and not cancel.is_set():
            stamps["cancel"] = time.perf_counter()
            cancel.set()

    result = engine.generate(
        prompt, GenerationParams(max_new_tokens=args.new_tokens), cancel, on_token=on_token
    )
    stopped_ms = (time.perf_counter() - stamps.get("cancel", time.perf_counter())) * 1000
    report.add(
        "cancel to return",
        f"{stopped_ms:.0f} ms, {result.choices[0].tokens} tokens generated "
        f"(cancelled after 4; stop reason {result.choices[0].stop_reason})",
    )
    _, peak = rss_mb()
    report.add("peak resident memory", f"{peak:.0f} MB")
    engine.close()


async def bench_server(args: argparse.Namespace, report: Report) -> None:
    driver = Driver("starcoder-ls-bench")
    settings = {"debounceMs": 0, "maxNewTokens": args.new_tokens}
    await driver.start(server_args(args, args.log_file), settings)
    status = await driver.wait_ready(timeout_s=600)
    if status["state"] != "ready":
        raise SystemExit(f"model failed to load: {status['message']}")

    sample = (resources.files("starcoder_ls.samples") / "inventory.py").read_text()
    holes = choose_holes(sample, count=args.requests)
    uri = "file:///bench/inventory.py"

    async def ask(text: str, line: int, character: int) -> tuple[float, list[str]]:
        driver.set_text(uri, text)
        items, ms = await driver.inline(uri, line, character, text.split("\n")[line])
        return ms, [item_text(item) for item in items]

    cold: list[float] = []
    hits: list[float] = []
    typed: list[float] = []
    empty = 0
    for hole in holes:
        lines = sample.split("\n")
        prefix = lines[hole.line][: hole.column]
        lines[hole.line] = prefix
        text = "\n".join(lines)
        ms, texts = await ask(text, hole.line, hole.column)
        cold.append(ms)
        ms, _ = await ask(text, hole.line, hole.column)
        hits.append(ms)
        if not texts or len(texts[0]) < 3:
            empty += not texts
            continue
        lines[hole.line] = prefix + texts[0][:2]
        ms, _ = await ask("\n".join(lines), hole.line, hole.column + 2)
        typed.append(ms)

    def line(values: list[float]) -> str:
        if not values:
            return "n/a"
        return (
            f"mean {statistics.mean(values):.0f} ms, p50 {_percentile(values, 0.5):.0f} ms, "
            f"p90 {_percentile(values, 0.9):.0f} ms (n={len(values)})"
        )

    report.add("cold request (model runs)", line(cold))
    report.add("same request again (exact cache)", line(hits))
    report.add("after typing 2 characters of it (typed-ahead)", line(typed))
    report.add("empty answers", f"{empty} of {len(holes)}")
    if driver.server_pid:
        current, peak = rss_mb(driver.server_pid)
        report.add("server resident memory (now / peak)", f"{current:.0f} MB / {peak:.0f} MB")
    await driver.stop()


def _code_prompt(tokenizer: Any, tokens: int) -> str:
    """About `tokens` tokens of real code (Python's own stdlib), cut at a line end."""
    import textwrap

    source = "".join(
        Path(module.__file__).read_text()  # type: ignore[arg-type]
        for module in (textwrap, argparse, statistics)
    )
    ids = tokenizer.encode(source, add_special_tokens=False)
    text = tokenizer.decode(ids[:tokens])
    return text[: text.rfind("\n") + 1] + "def summarize(values):\n    return "


def bench_reuse(args: argparse.Namespace, report: Report) -> None:
    """A cold request on a long prompt against one typed character after it, reuse on/off."""
    from starcoder_ls.engine.local import LocalEngine

    engine = LocalEngine.load(_engine_settings(args))
    report.add("model", f"{engine.info.model} ({engine.info.device}, {engine.info.dtype})")
    budget = engine.info.context_window - args.reuse_new_tokens - 8
    prompt = _code_prompt(engine.tokenizer, min(args.reuse_prompt_tokens, budget))
    never = threading.Event()
    params = GenerationParams(max_new_tokens=args.reuse_new_tokens)
    cold, typed, off = [], [], []
    for round_ in range(args.repeat):
        engine.prefix_cache.clear()
        cold.append(engine.generate(prompt, params, never))
        typed.append(engine.generate(prompt + "sorted"[: round_ + 1], params, never))
        plain = GenerationParams(max_new_tokens=args.reuse_new_tokens, kv_reuse=False)
        off.append(engine.generate(prompt + "sorted"[: round_ + 1], plain, never))

    def line(results: list) -> str:
        best = min(r.generate_ms for r in results)
        last = results[-1]
        return (
            f"{best:.0f} ms (best of {len(results)}), {last.prefilled_tokens} of "
            f"{last.prompt_tokens} prompt tokens prefilled"
        )

    report.add(f"cold request ({args.reuse_new_tokens} new tokens)", line(cold))
    report.add("one typed character after it, kvReuse on", line(typed))
    report.add("one typed character after it, kvReuse off", line(off))
    same = all(a.choices == b.choices for a, b in zip(typed, off, strict=True))
    report.add("same answers with and without reuse", "yes" if same else "NO")
    bench_decode_overhead(args, engine, report)
    engine.close()


def bench_decode_overhead(args: argparse.Namespace, engine: LocalEngine, report: Report) -> None:
    """Decode tokens/s through `LocalEngine.generate` against a bare `model.generate`.

    Both decode the same greedy tokens from the same prompt (no healing, no stops, same
    end ids); a token's cost is the time of N tokens less that of one, over N - 1.
    """
    import cProfile
    import pstats

    import torch

    from starcoder_ls.engine.tokens import eos_ids

    model, tokenizer = engine.model, engine.tokenizer
    prompt = _code_prompt(tokenizer, 200)
    ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)])
    ends = list(eos_ids(model, tokenizer, tokenizer.get_vocab(), engine.info.template))
    never = threading.Event()
    new = args.new_tokens

    def bare(count: int) -> tuple[float, int]:
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=count,
                do_sample=False,
                eos_token_id=ends,
                pad_token_id=ends[0],
            )
        return time.perf_counter() - started, out.shape[1] - ids.shape[1]

    def wrapped(count: int) -> tuple[float, int]:
        params = GenerationParams(max_new_tokens=count, token_healing=False, kv_reuse=False)
        started = time.perf_counter()
        result = engine.generate(prompt, params, never)
        return time.perf_counter() - started, result.choices[0].tokens

    # Interleaved, best of each: a busy machine slows whichever run it happens to hit.
    paths = {"bare model.generate": bare, "LocalEngine.generate": wrapped}
    for run in paths.values():
        run(new)  # warm up
    per_token: dict[str, list[float]] = {name: [] for name in paths}
    counts: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, run in paths.items():
            one, _ = run(1)
            seconds, counts[name] = run(new)
            per_token[name].append((seconds - one) / max(counts[name] - 1, 1))
    rates = {name: 1 / max(min(times), 1e-9) for name, times in per_token.items()}
    for name, rate in rates.items():
        report.add(f"decode, {name}", f"{rate:.1f} tokens/s ({counts[name]} tokens)")
    bare_rate, engine_rate = rates["bare model.generate"], rates["LocalEngine.generate"]
    report.add("engine overhead per decoded token", f"{(bare_rate / engine_rate - 1) * 100:+.1f} %")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(wrapped, new)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(25)


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=8, help="server requests (holes)")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-chars", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument(
        "--reuse-check",
        action="store_true",
        help="measure KV reuse (cold vs one typed character) and the engine's decode overhead",
    )
    parser.add_argument("--reuse-prompt-tokens", type=int, default=2000)
    parser.add_argument("--reuse-new-tokens", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="cProfile of one generate call")
    parser.add_argument(
        "--speculation-check",
        action="store_true",
        help="greedy decode tokens/s without and with prompt lookup and a draft model",
    )
    parser.add_argument(
        "--prompt-lookup",
        type=_int_list,
        default=[0, 5, 10],
        metavar="N,N",
        help="prompt lookup lengths for --speculation-check (0: without)",
    )
    parser.add_argument("--draft-model", default="", help="draft model for --speculation-check")
    parser.add_argument(
        "--random-weights",
        choices=("starcoder",),
        help="StarCoder's real shape with random weights: nothing to download",
    )
    parser.add_argument("--layers", type=int, help="with --random-weights: fewer layers")
    parser.add_argument("--hidden", type=int, help="with --random-weights: narrower hidden size")
    parser.add_argument("--context-tokens", type=int, default=2048)
    parser.add_argument("--suffix-tokens", type=int, default=256)
    parser.add_argument("--attention", choices=("auto", "sdpa", "eager"), default="auto")
    parser.add_argument("--static-cache", action="store_true", help="CUDA: static KV cache")
    parser.add_argument("--compile", action="store_true", help="CUDA: torch.compile decode step")


def run_bench(args: argparse.Namespace) -> int:
    args.log_file = args.log_file or Path("/tmp/starcoder-ls-bench.log")
    machine = f"{platform.machine()}, {_cpu_count()} CPU cores, Python {platform.python_version()}"
    print(f"starcoder-ls bench on {machine}", file=sys.stderr)
    parts: list[str] = [f"## {date.today().isoformat()} · {machine}\n"]
    if args.random_weights:
        from starcoder_ls.tools.bench_random import measure

        shaped = Report()
        measure(args, shaped)
        print("\n".join([*parts, shaped.markdown("StarCoder shape, random weights (in-process)")]))
        return 0
    if args.speculation_check:
        from starcoder_ls.tools.bench_speculation import bench_speculation

        speculation = Report()
        bench_speculation(args, speculation)
        print("\n".join([*parts, speculation.markdown("Speculative decoding (in-process)")]))
        return 0
    if args.reuse_check:
        reuse = Report()
        bench_reuse(args, reuse)
        print("\n".join([*parts, reuse.markdown("KV reuse and decode overhead (in-process)")]))
        return 0
    if not args.skip_engine:
        engine = Report()
        bench_engine(args, engine)
        parts.append(engine.markdown("engine (in-process)"))
    if not args.skip_server:
        server = Report()
        asyncio.run(bench_server(args, server))
        parts.append(server.markdown("server (over LSP, stdio)"))
    print("\n".join(parts))
    return 0


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
