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
from dataclasses import dataclass
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


Variant = tuple[str, "LocalEngine", int]
"""(name, engine, promptLookup): the plain engine or the one with the draft model."""


@dataclass
class _Tally:
    """Per variant: wall and CPU seconds of each round, and from the first round the tokens,
    forward passes and answers."""

    seconds: dict[str, list[float]]
    cpu_seconds: dict[str, list[float]]
    tokens: dict[str, int]
    steps: dict[str, int]
    answers: dict[str, list[Any]]

    @classmethod
    def of(cls, variants: list[Variant], repeat: int) -> _Tally:
        names = [name for name, _, _ in variants]
        return cls(
            seconds={name: [0.0] * repeat for name in names},
            cpu_seconds={name: [0.0] * repeat for name in names},
            tokens=dict.fromkeys(names, 0),
            steps=dict.fromkeys(names, 0),
            answers={name: [] for name in names},
        )

    def rate(self, name: str, spent: dict[str, list[float]]) -> float:
        return statistics.median(self.tokens[name] / s for s in spent[name])


def bench_speculation(args: argparse.Namespace, report: Report) -> None:
    """Greedy decode tokens/s without and with prompt lookup and a draft model.

    Each call's cache is warmed by the same call just before (KV reuse), so a call is nearly
    all decoding; variants run interleaved on each prompt, and each variant's figure is the
    median over rounds of its tokens over its time. On a shared machine wall time follows
    the neighbours' load, so the process's CPU time is reported too. Forward passes of the
    main model are counted with a hook.
    """
    from starcoder_ls.engine.local import LocalEngine
    from starcoder_ls.engine.settings import EngineSettings

    engine = LocalEngine.load(
        EngineSettings(
            model=args.model, device=args.device, dtype=args.dtype, draft_model=args.draft_model
        )
    )
    report.add("model", f"{engine.info.model} ({engine.info.device}, {engine.info.dtype})")
    plain = LocalEngine(model=engine.model, tokenizer=engine.tokenizer, info=engine.info)
    lookups = [n for n in args.prompt_lookup if n > 0]
    variants: list[Variant] = [("plain greedy", plain, 0)]
    variants += [(f"promptLookup {n}", plain, n) for n in lookups]
    if args.draft_model:
        variants.append((f"draftModel {args.draft_model}", engine, 0))
        variants += [(f"draftModel + promptLookup {n}", engine, n) for n in lookups[-1:]]
    prompts = _completion_prompts(engine.tokenizer, args.requests, args.reuse_prompt_tokens)
    tally = _measure(engine, variants, prompts, args)
    _report(tally, len(prompts), args, report)
    engine.close()


def _measure(
    engine: LocalEngine, variants: list[Variant], prompts: list[str], args: argparse.Namespace
) -> _Tally:
    never = threading.Event()
    passes = [0]
    hook = engine.model.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))

    def run(target: LocalEngine, prompt: str, lookup: int) -> Any:
        params = GenerationParams(max_new_tokens=args.new_tokens, prompt_lookup=lookup)
        return target.generate(prompt, params, never)

    tally = _Tally.of(variants, args.repeat)
    for round_ in range(args.repeat):
        for prompt in prompts:
            for name, target, lookup in variants:
                # Right before the timed call, not once for all: the variants share a pool
                # of kept caches that holds only a few of these prompts at a time.
                run(target, prompt, lookup)
                passes[0] = 0
                started, cpu = time.perf_counter(), time.process_time()
                result = run(target, prompt, lookup)
                tally.seconds[name][round_] += time.perf_counter() - started
                tally.cpu_seconds[name][round_] += time.process_time() - cpu
                if round_ == 0:
                    tally.tokens[name] += result.choices[0].tokens
                    tally.steps[name] += passes[0]
                    tally.answers[name].append(result.choices)
    hook.remove()
    return tally


def _report(tally: _Tally, prompts: int, args: argparse.Namespace, report: Report) -> None:
    base = tally.rate("plain greedy", tally.seconds)
    cpu_base = tally.rate("plain greedy", tally.cpu_seconds)
    for name in tally.seconds:
        wall, cpu = tally.rate(name, tally.seconds), tally.rate(name, tally.cpu_seconds)
        report.add(
            f"decode, {name}",
            f"{wall:.1f} tokens/s ({wall / base:.2f}x), {cpu:.1f} tokens per CPU-second "
            f"({cpu / cpu_base:.2f}x), "
            f"{tally.steps[name] / tally.tokens[name]:.2f} forward passes per token",
        )
    answers = tally.answers
    differing = sum(
        any(answers[name][i] != answers["plain greedy"][i] for name in answers)
        for i in range(prompts)
    )
    report.add(
        "same answers as plain greedy",
        "yes" if not differing else f"NO: {differing} of {prompts} prompts differ",
    )
    report.add(
        "setting",
        f"{prompts} prompts of {args.reuse_prompt_tokens} tokens, {args.new_tokens} new "
        f"tokens, median of {args.repeat} interleaved rounds",
    )
