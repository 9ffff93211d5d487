"""`starcoder-ls bench --speculation-check`: what prompt lookup and a draft model save.

Greedy decode tokens/s without and with prompt lookup (each `--prompt-lookup` value) and
with `--draft-model`, on completions inside real code, and whether the answers are the
same (they should be: speculation only skips steps whose token the model picks anyway).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.tools.shared import Report

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine


def _completion_prompts(tokenizer: Any, count: int, tokens: int) -> list[str]:
    """Prompts ending where a function body's next line starts, in Python's own stdlib:
    code that refers back to itself as any file being edited does."""
    import json.decoder
    import textwrap

    sources = [
        Path(module.__file__).read_text()  # type: ignore[arg-type]
        for module in (textwrap, argparse, statistics, json.decoder)
    ]
    prompts = []
    for index in range(count):
        lines = sources[index % len(sources)].split("\n")
        at = len(lines) * (2 + index // len(sources)) // (3 + count // len(sources))
        while at < len(lines) - 1 and not (
            lines[at].startswith("        ") and lines[at].strip() and lines[at - 1].strip()
        ):
            at += 1
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        head = "\n".join(lines[:at]) + "\n" + indent
        ids = tokenizer.encode(head, add_special_tokens=False)[-tokens:]
        prompts.append(tokenizer.decode(ids))
    return prompts


def bench_speculation(args: argparse.Namespace, report: Report) -> None:
    """Greedy decode tokens/s without and with prompt lookup and a draft model.

    Each call's cache is warmed by the same call just before (KV reuse), so a call is nearly
    all decoding; variants run interleaved on each prompt, and each variant's figure is the
    median over rounds of its tokens over its time. On a shared machine wall time follows
    the neighbours' load, so the process's CPU time is reported too. Forward passes of the
    main model are counted with a hook.
    """
    from starcoder_ls.engine.local import LocalEngine

    engine = LocalEngine.load(
        args.model, device=args.device, dtype=args.dtype, draft_model=args.draft_model or ""
    )
    report.add("model", f"{engine.info.model} ({engine.info.device}, {engine.info.dtype})")
    plain = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)
    lookups = [n for n in args.prompt_lookup if n > 0]
    variants: list[tuple[str, LocalEngine, int]] = [("plain greedy", plain, 0)]
    variants += [(f"promptLookup {n}", plain, n) for n in lookups]
    if args.draft_model:
        variants.append((f"draftModel {args.draft_model}", engine, 0))
        variants += [(f"draftModel + promptLookup {n}", engine, n) for n in lookups[-1:]]
    prompts = _completion_prompts(engine.tokenizer, args.requests, args.reuse_prompt_tokens)
    never = threading.Event()
    passes = [0]
    hook = engine.model.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))

    def run(target: LocalEngine, prompt: str, lookup: int) -> Any:
        params = GenerationParams(max_new_tokens=args.new_tokens, prompt_lookup=lookup)
        return target.generate(prompt, params, never)

    seconds = {name: [0.0] * args.repeat for name, _, _ in variants}
    cpu_seconds = {name: [0.0] * args.repeat for name in seconds}
    tokens = dict.fromkeys(seconds, 0)
    steps = dict.fromkeys(seconds, 0)
    answers: dict[str, list] = {name: [] for name in seconds}
    for round_ in range(args.repeat):
        for prompt in prompts:
            for name, target, lookup in variants:
                # Right before the timed call, not once for all: the variants share a pool
                # of kept caches that holds only a few of these prompts at a time.
                run(target, prompt, lookup)
                passes[0] = 0
                started, cpu = time.perf_counter(), time.process_time()
                result = run(target, prompt, lookup)
                seconds[name][round_] += time.perf_counter() - started
                cpu_seconds[name][round_] += time.process_time() - cpu
                if round_ == 0:
                    tokens[name] += result.choices[0].tokens
                    steps[name] += passes[0]
                    answers[name].append(result.choices)
    hook.remove()

    def rate(name: str, spent: dict[str, list[float]]) -> float:
        return statistics.median(tokens[name] / s for s in spent[name])

    base, cpu_base = rate("plain greedy", seconds), rate("plain greedy", cpu_seconds)
    for name in seconds:
        wall, cpu = rate(name, seconds), rate(name, cpu_seconds)
        report.add(
            f"decode, {name}",
            f"{wall:.1f} tokens/s ({wall / base:.2f}x), {cpu:.1f} tokens per CPU-second "
            f"({cpu / cpu_base:.2f}x), {steps[name] / tokens[name]:.2f} forward passes per token",
        )
    differing = sum(
        any(answers[name][i] != answers["plain greedy"][i] for name in answers)
        for i in range(len(prompts))
    )
    report.add(
        "same answers as plain greedy",
        "yes" if not differing else f"NO: {differing} of {len(prompts)} prompts differ",
    )
    report.add(
        "setting",
        f"{len(prompts)} prompts of {args.reuse_prompt_tokens} tokens, {args.new_tokens} new "
        f"tokens, median of {args.repeat} interleaved rounds",
    )
    engine.close()
