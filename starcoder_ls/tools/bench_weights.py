"""`starcoder-ls bench weights`: float32 against float16 products and int8 weights on a CPU
(engine/quantize.py).

Speed: prefill ms of prompts of `--prompt-tokens` tokens and decode ms a token, the
variants alternating round by round in one process (a shared machine's load hits all
alike). Quality: the first line each greedily writes (at most 48 tokens) after code
prefixes (HumanEval's single-line infilling prompts when `--data` is there, else Python's
own stdlib): how many lines are the same, the share of each float32 line's tokens the
other line repeats before it first differs, and the next-token argmax agreement.
`--per-tensor` adds int8 with one scale a matrix, to show why the engine scales each
output channel.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.tools.bench_speculation import _completion_prompts

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine

STEPS = 32
"""Positions a prompt ends with that the argmax check feeds one token at a time."""

HUMANEVAL = "/work/shared/data/humaneval-infilling/HumanEval-SingleLineInfilling.jsonl.gz"


def add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (each variant)")
    parser.add_argument("--prompt-tokens", default="200,2000", help="prefill sizes, N,N")
    parser.add_argument("--decode-tokens", type=int, default=24)
    parser.add_argument("--prompts", type=int, default=30, help="greedy agreement prompts")
    parser.add_argument("--data", default=HUMANEVAL, help="HumanEval infilling .jsonl.gz")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--per-tensor", action="store_true", help="also one scale a matrix")


def run_weights(args: argparse.Namespace) -> int:
    import torch

    from starcoder_ls.engine import quantize
    from starcoder_ls.engine.local import LocalEngine
    from starcoder_ls.engine.settings import EngineSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = EngineSettings(model=args.model, dtype="float32", cpu_weights="float")
    variants = {"float32": LocalEngine.load(settings)}
    for weights in ("float16", "int8"):
        chosen = EngineSettings(**{**vars(settings), "cpu_weights": weights})
        variants[weights] = LocalEngine.load(chosen)
    if args.per_tensor:
        variants["int8 per tensor"] = LocalEngine.load(settings)
        quantize.to_int8(variants["int8 per tensor"].model, per_channel=False)
    print(f"threads {torch.get_num_threads()}", flush=True)
    _speed(args, {k: v for k, v in variants.items() if k != "int8 per tensor"})
    _agreement(args, variants)
    return 0


def _params(new_tokens: int, **extra: Any) -> GenerationParams:
    return GenerationParams(max_new_tokens=new_tokens, kv_reuse=False, **extra)


def _speed(args: argparse.Namespace, variants: dict[str, LocalEngine]) -> None:
    """Prefill: a one-token call's time. Decode: the time between a call's first and last
    token over the tokens between, read from the engine's per-token callback, so that
    neither prefill nor a call that stops early moves it."""
    cancel = threading.Event()
    any_engine = next(iter(variants.values()))
    for size in (int(n) for n in args.prompt_tokens.split(",")):
        prompt = _completion_prompts(any_engine.tokenizer, 1, size)[0]
        prefill: dict[str, list[float]] = {name: [] for name in variants}
        decode: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, engine in variants.items():
                one = engine.generate(prompt, _params(1, token_healing=False), cancel)
                prefill[name].append(one.generate_ms)
                stamps: list[float] = []
                engine.generate(
                    prompt,
                    _params(args.decode_tokens, token_healing=False),
                    cancel,
                    on_token=lambda _count, stamps=stamps: stamps.append(time.perf_counter()),
                )
                if len(stamps) > 1:
                    decode[name].append((stamps[-1] - stamps[0]) * 1000 / (len(stamps) - 1))
        for name in variants:
            print(
                f"{size} prompt tokens, {name}: prefill {_ms(prefill[name])} ms, "
                f"decode {_ms(decode[name])} ms/token",
                flush=True,
            )


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.1f} (runs {', '.join(f'{v:.0f}' for v in values)})"


def _agreement(args: argparse.Namespace, variants: dict[str, LocalEngine]) -> None:
    cancel = threading.Event()
    base = variants["float32"]
    prompts = _prefixes(args, base.tokenizer)
    params = _params(48, stop=("\n",), stop_after_blank_start=True)
    lines = {
        name: [engine.generate(p, params, cancel).choices[0].text for p in prompts]
        for name, engine in variants.items()
    }
    for name in variants:
        if name == "float32":
            continue
        same = sum(a == b for a, b in zip(lines["float32"], lines[name], strict=True))
        shares = [
            _shared_share(base.encode(a), base.encode(b))
            for a, b in zip(lines["float32"], lines[name], strict=True)
        ]
        print(
            f"{name}: {same} of {len(prompts)} first lines the same as float32's, "
            f"mean token agreement {statistics.mean(shares):.3f}, next-token argmax "
            f"agreement over the prompts {_argmax_agreement(base, variants[name], prompts):.3f}",
            flush=True,
        )


def _argmax_agreement(
    base: LocalEngine, other: LocalEngine, prompts: list[str], *, steps: int = STEPS
) -> float:
    """The share of positions where both models' most likely next token is the same
    (teacher-forced: every position sees the same text). `other` reads each prompt's
    last `steps` tokens one at a time after the rest in one pass, as decoding does:
    float16 products run for short inputs only (quantize.py)."""
    import torch
    from transformers import DynamicCache

    same = total = 0
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([base.encode(prompt)])
            want = base.model(input_ids=ids).logits[0].argmax(-1)
            head = max(ids.shape[1] - steps, 1)
            cache = DynamicCache()
            logits = other.model(input_ids=ids[:, :head], cache=cache).logits
            got = [logits[0].argmax(-1)]
            for at in range(head, ids.shape[1]):
                step = other.model(input_ids=ids[:, at : at + 1], cache=cache)
                got.append(step.logits[0].argmax(-1))
            same += int((want == torch.cat(got)).sum())
            total += int(ids.shape[1])
    return same / max(total, 1)


def _shared_share(first: list[int], second: list[int]) -> float:
    """The share of `first`'s tokens that `second` repeats before the first difference."""
    if not first:
        return 1.0 if not second else 0.0
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    return shared / max(len(first), len(second))


def _prefixes(args: argparse.Namespace, tokenizer: Any) -> list[str]:
    """Prefixes ending where a line is to be written: one task each of HumanEval's
    single-line infilling (the prompt and the solution's lines above the hole)."""
    path = Path(args.data)
    if not path.is_file():
        return _completion_prompts(tokenizer, args.prompts, 1000)
    seen, prompts = set(), []
    with gzip.open(path, "rt", encoding="utf-8") as rows:
        for row in map(json.loads, rows):
            task = row["task_id"].split("/")[2]
            if task in seen or len(prompts) >= args.prompts:
                continue
            seen.add(task)
            prompts.append(row["prompt"])
    return prompts
