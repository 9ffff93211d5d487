"""`starcoder-ls bench --random-weights starcoder`: StarCoder's speed without its weights.

Time and memory depend on the model's shape, not on its weights' values, so StarCoder's
real configuration (40 layers, 6144 hidden, multi-query, 8192 positions, bf16 on CUDA)
with random weights runs unchanged on any CUDA machine: no download, no license step.
`--layers N --hidden H` scale it down (a CPU smoke run uses `--layers 2 --hidden 64`).

Figures, each against issue 11's target where it has one:
- prefill: a cold `--context-tokens` FIM prompt (2,048) through the model;
- decode: greedy tokens/s once the prompt is in the cache (target >= 80);
- single line: a completion of up to 16 tokens stopping at a line end, at that context,
  for one typed character after a cold request, with KV reuse (target <= 150 ms);
- peak memory (CUDA: allocated by torch; CPU: resident).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.base import GenerationParams, GenerationResult
from starcoder_ls.tools.shared import Report, rss_mb

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine

LINE_TOKENS = 16


@dataclass(frozen=True)
class Figures:
    load_s: float
    prompt_tokens: int
    prefill_ms: float
    decode_tokens_per_s: float
    line_cold_ms: float
    line_typed_ms: float
    line_typed_prefilled: int
    line_tokens: int
    peak_memory_mb: float


def build(args: argparse.Namespace) -> tuple[LocalEngine, float]:
    """The random StarCoder on the chosen device, and how long it took to build."""
    from starcoder_ls.engine.acceleration import Acceleration
    from starcoder_ls.engine.placement import dtype_name, resolve_placement
    from starcoder_ls.tools.random_weights import Shape, random_engine

    shape = Shape.scaled(args.layers, args.hidden)
    placement = resolve_placement(args.device, args.dtype)
    device = placement.device
    if not device.startswith("cuda") and not (args.layers or args.hidden):
        size = shape.parameters * placement.dtype.itemsize / 1e9
        raise SystemExit(
            f"the full StarCoder shape needs {size:.0f} GB in {dtype_name(placement.dtype)} on "
            f"{device}; scale it down, e.g. --layers 2 --hidden 64"
        )
    acceleration = Acceleration(
        attention=args.attention, static_cache=args.static_cache, compile=args.compile
    )
    started = time.perf_counter()
    engine = random_engine(shape, device=args.device, dtype=args.dtype, acceleration=acceleration)
    return engine, time.perf_counter() - started


def code_prompt(engine: LocalEngine, tokens: int, suffix_tokens: int) -> tuple[str, str]:
    """(prefix, suffix) of real code rendering to a FIM prompt of about `tokens` tokens.

    The tokenizer has one token per byte, so characters are counted as tokens."""
    import textwrap

    source = "".join(
        Path(module.__file__).read_text()  # type: ignore[arg-type]
        for module in (textwrap, argparse, statistics)
    )
    source = source.encode("ascii", "ignore").decode("ascii")
    suffix = source[-suffix_tokens:] if suffix_tokens else ""
    budget = tokens - len(engine.encode(engine.info.template.render("", suffix)))
    return source[: max(budget, 1)], suffix


def measure(args: argparse.Namespace, report: Report) -> Figures:
    engine, load_s = build(args)
    report.add("model", f"{engine.info.model} ({engine.info.device}, {engine.info.dtype})")
    switches = engine.acceleration
    report.add(
        "GPU path",
        f"attention {switches.attention}, static cache {switches.static_cache}, "
        f"compile {switches.compile}",
    )
    report.add("built in", f"{load_s:.1f} s")
    prefix, suffix = code_prompt(engine, args.context_tokens, args.suffix_tokens)
    prompt = engine.info.template.render(prefix, suffix)
    _reset_peak(engine)

    _timed(engine, prompt, max_new_tokens=2, kv_reuse=False)  # warm up (kernels, compilation)
    prefill = [
        _timed(engine, prompt, max_new_tokens=1, kv_reuse=False)[0] for _ in range(args.repeat)
    ]
    prompt_tokens = len(engine.encode(prompt))
    report.add(f"prefill ({prompt_tokens} tokens, cold)", f"{statistics.median(prefill):.0f} ms")
    decode = _decode_rate(engine, prompt, args, report)
    cold, typed, prefilled, lengths = _single_line(engine, (prefix, suffix), args.repeat)
    report.add("single line, cold", f"{statistics.median(cold):.0f} ms")
    report.add(
        "single line, one typed character after it (kvReuse)",
        f"{statistics.median(typed):.0f} ms (target <= 150), {max(prefilled)} tokens "
        f"prefilled, {max(lengths)} generated",
    )
    peak = _peak_mb(engine)
    report.add("peak memory", f"{peak:.0f} MB")
    figures = Figures(
        load_s=load_s,
        prompt_tokens=prompt_tokens,
        prefill_ms=statistics.median(prefill),
        decode_tokens_per_s=decode,
        line_cold_ms=statistics.median(cold),
        line_typed_ms=statistics.median(typed),
        line_typed_prefilled=max(prefilled),
        line_tokens=max(lengths),
        peak_memory_mb=peak,
    )
    engine.close()
    return figures


_NEVER = threading.Event()
"""The cancel flag of a benchmark's requests: never set."""


def _timed(engine: LocalEngine, text: str, **params: Any) -> tuple[float, GenerationResult]:
    """(milliseconds, result) of one generation."""
    started = time.perf_counter()
    result = engine.generate(text, GenerationParams(**params), _NEVER)
    return (time.perf_counter() - started) * 1000, result


def _decode_rate(
    engine: LocalEngine, prompt: str, args: argparse.Namespace, report: Report
) -> float:
    """Decode from a cached prompt: a token's cost is the time of N less that of 1, over
    N - 1 (the median of `--repeat` rounds, in tokens/s)."""
    new = max(args.new_tokens, 2)
    _timed(engine, prompt, max_new_tokens=new)
    rates = []
    for _ in range(args.repeat):
        one, _ = _timed(engine, prompt, max_new_tokens=1)
        many, result = _timed(engine, prompt, max_new_tokens=new)
        generated = result.choices[0].tokens
        rates.append((generated - 1) / max(many - one, 1e-6) * 1000)
    decode = statistics.median(rates)
    report.add(f"decode ({new} tokens, greedy)", f"{decode:.1f} tokens/s (target >= 80)")
    return decode


def _single_line(
    engine: LocalEngine, parts: tuple[str, str], repeat: int
) -> tuple[list[float], list[float], list[int], list[int]]:
    """(cold ms, ms after one typed character, tokens prefilled then, tokens generated)
    of a single-line completion, each round from an empty prefix cache."""
    prefix, suffix = parts
    template = engine.info.template
    prompt = template.render(prefix, suffix)
    cold: list[float] = []
    typed: list[float] = []
    prefilled: list[int] = []
    lengths: list[int] = []
    line: dict[str, Any] = {"max_new_tokens": LINE_TOKENS, "stop": ("\n",)}
    for round_ in range(repeat):
        engine.prefix_cache.clear()
        cold.append(_timed(engine, prompt, **line)[0])
        ms, result = _timed(engine, template.render(prefix + "abc"[round_ % 3], suffix), **line)
        typed.append(ms)
        prefilled.append(result.prefilled_tokens or 0)
        lengths.append(result.choices[0].tokens)
    return cold, typed, prefilled, lengths


def _reset_peak(engine: LocalEngine) -> None:
    import torch

    if engine.info.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak_mb(engine: LocalEngine) -> float:
    import torch

    if engine.info.device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return rss_mb()[1]


def as_dict(figures: Figures) -> dict[str, float]:
    return {name: float(value) for name, value in asdict(figures).items()}
