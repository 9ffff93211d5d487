"""`starcoder-ls bench weights`: float32 against int8 weights on a CPU (engine/quantize.py).

Speed: prefill ms of prompts of `--prompt-tokens` tokens and decode ms a token, float and
int8 alternating round by round in one process (a shared machine's load hits both
alike). Quality: the first line each greedily writes (at most 48 tokens) after code
prefixes (HumanEval's single-line infilling prompts when `--data` is there, else Python's
own stdlib): how many lines are the same, and the share of each float line's tokens the
int8 line repeats before it first differs. `--per-tensor` adds int8 with one scale a
matrix, to show why the engine scales each output channel.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine.base import GenerationParams
from starcoder_ls.tools.bench_speculation import _completion_prompts

if TYPE_CHECKING:
    from starcoder_ls.engine.local import LocalEngine

HUMANEVAL = "/work/shared/data/humaneval-infilling/HumanEval-SingleLineInfilling.jsonl.gz"


def add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (float, int8 each)")
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
    variants["int8"] = LocalEngine.load(EngineSettings(**{**vars(settings), "cpu_weights": "int8"}))
    if args.per_tensor:
        variants["int8 per tensor"] = LocalEngine.load(settings)
        quantize.to_int8(variants["int8 per tensor"].model, per_channel=False)
    print(f"threads {torch.get_num_threads()}, {variants['int8'].info.extra}", flush=True)
    _speed(args, {k: v for k, v in variants.items() if k != "int8 per tensor"})
    _agreement(args, variants)
    return 0


def _params(new_tokens: int, **extra: Any) -> GenerationParams:
    return GenerationParams(max_new_tokens=new_tokens, kv_reuse=False, **extra)


def _speed(args: argparse.Namespace, variants: dict[str, LocalEngine]) -> None:
    cancel = threading.Event()
    any_engine = next(iter(variants.values()))
    for size in (int(n) for n in args.prompt_tokens.split(",")):
        prompt = _completion_prompts(any_engine.tokenizer, 1, size)[0]
        prefill: dict[str, list[float]] = {name: [] for name in variants}
        decode: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, engine in variants.items():
                one = engine.generate(prompt, _params(1, token_healing=False), cancel)
                many = engine.generate(
                    prompt, _params(args.decode_tokens, token_healing=False), cancel
                )
                tokens = many.choices[0].tokens
                prefill[name].append(one.generate_ms)
                decode[name].append((many.generate_ms - one.generate_ms) / max(tokens - 1, 1))
        for name in variants:
            print(
                f"{size} prompt tokens, {name}: prefill {_ms(prefill[name])} ms, "
                f"decode {_ms(decode[name])} ms/token",
                flush=True,
            )


def _ms(values: list[float]) -> str:
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


def _argmax_agreement(base: LocalEngine, other: LocalEngine, prompts: list[str]) -> float:
    """The share of the prompts' positions where both models' most likely next token is
    the same (teacher-forced: every position sees the same text)."""
    import torch

    same = total = 0
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([base.encode(prompt)])
            want = base.model(input_ids=ids).logits[0].argmax(-1)
            got = other.model(input_ids=ids).logits[0].argmax(-1)
            same += int((want == got).sum())
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
