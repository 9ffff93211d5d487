"""The real `starcoder-ls` server with an engine the test controls, run over stdio.

Protocol tests must not depend on what a random model happens to answer: an empty answer
would let every check on the items pass. Here `create_server` runs as the CLI starts it,
but its engine factory returns either

- a `ScriptedEngine` (`--script FILE`) whose answers the test chooses, or
- the real `LocalEngine` (no `--script`: `--model` as for `starcoder-ls serve`),

and with `--record FILE` every generate call (prompt, parameters, choices) is appended
to FILE as one JSON line, so a test can see what reached the model without reading the
server's log.

Script file (JSON), read again at every generate call so a test can change the answers
between requests of one server::

    {"template": "starcoder",            # FIM template of the engine (default starcoder)
     "rules": [{"contains": "<filename>a.py",   # prompt substring; absent: any prompt
                "choices": ["x + 1", "x - 1"],  # greedy: the first; sampled: the others
                "delay_ms": 0,                  # a slow model that still honours cancel
                "token_ms": 0,                  # greedy: writes a character a step (on_text)
                "raise": "oom"}]}               # a fault instead of an answer (FAULTS)

The first rule whose `contains` is in the prompt answers; no rule: an empty answer.

Run as `python tests/support/scripted_server.py` (it imports nothing from `tests`, so the
working directory does not matter) or `python -m tests.support.scripted_server`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starcoder_ls.cli import build_parser, settings_from_args, setup_logging
from starcoder_ls.completion.lifecycle import load_engine
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import (
    Engine,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    GenerationResult,
)
from starcoder_ls.engine.fim import get_template

SCRIPTED_MODEL = "scripted"
"""The model name the scripted engine reports in `starcoder.status`."""
DEFAULT_TEMPLATE = "starcoder"
CONTEXT_WINDOW = 2048


def read_script(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def write_script(path: Path, rules: Sequence[dict[str, Any]], template: str = "") -> None:
    """Write the script a `ScriptedEngine` on `path` answers from (atomically)."""
    script: dict[str, Any] = {"rules": list(rules)}
    if template:
        script["template"] = template
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(script), encoding="utf-8")
    scratch.replace(path)


def choose(choices: Sequence[str], params: GenerationParams) -> list[str]:
    """Greedy decoding has one answer, the first choice; `n` samples are the alternatives
    after it, in turn (repeating when there are fewer than `n`), as a real model's
    sampled choices differ from its greedy one."""
    if not choices:
        return []
    if params.temperature == 0:
        return list(choices[:1])
    return [choices[(1 + i) % len(choices)] for i in range(params.n)]


def cut_at_stop(text: str, stop: Sequence[str]) -> Generation:
    """As a real engine ends a choice: before the first stop string (`\\n` on one line)."""
    ends = [text.find(s) for s in stop if s and s in text]
    if ends:
        text = text[: min(ends)]
    return Generation(
        text=text, tokens=max(1, len(text.split())), stop_reason="stop" if ends else "eos"
    )


class OutOfMemoryError(RuntimeError):
    """Named as `torch.OutOfMemoryError` (a RuntimeError), which an engine on a GPU may let out."""


FAULTS: dict[str, tuple[type[Exception], str]] = {
    "oom": (OutOfMemoryError, "CUDA out of memory. Tried to allocate 2.00 GiB"),
    "engine": (EngineError, "out of memory generating 16 tokens x 1 from a 9-token prompt"),
    "crash": (ValueError, "shape mismatch in layer 3"),
}
"""What a rule's `raise` raises from `generate`: a raw error from the model's code, or the
`EngineError` the local engine makes of an out of memory."""


class ScriptedEngine:
    """Answers from the rules in its script file, re-read at every call."""

    def __init__(self, script: Path, template: str | None = None) -> None:
        self.script = script
        name = template or read_script(script).get("template") or DEFAULT_TEMPLATE
        self.info = EngineInfo(
            model=SCRIPTED_MODEL, template=get_template(name), context_window=CONTEXT_WINDOW
        )

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    @property
    def streams_text(self) -> bool:
        """Says its text as it writes it (`on_text`) while a rule writes step by step."""
        return any(rule.get("token_ms") for rule in read_script(self.script).get("rules", []))

    def _rule(self, prompt: str) -> dict[str, Any]:
        for rule in read_script(self.script).get("rules", []):
            if rule.get("contains", "") in prompt:
                return rule
        return {}

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        **kwargs: Any,
    ) -> GenerationResult:
        rule = self._rule(prompt)
        if cancel.wait(rule.get("delay_ms", 0) / 1000):
            return GenerationResult(choices=(), prompt_tokens=0, generate_ms=0.0, cancelled=True)
        if "raise" in rule:
            kind, message = FAULTS[rule["raise"]]
            raise kind(message)
        choices = tuple(
            cut_at_stop(text, params.stop) for text in choose(rule.get("choices", []), params)
        )
        if rule.get("token_ms") and params.temperature == 0 and choices:
            return _step_by_step(choices[0], rule["token_ms"] / 1000, cancel, kwargs)
        on_token = kwargs.get("on_token")
        if on_token is not None and choices:
            on_token(max(c.tokens for c in choices))
        return GenerationResult(
            choices=choices, prompt_tokens=self.count_tokens(prompt), generate_ms=1.0
        )

    def close(self) -> None:
        pass


def _step_by_step(
    choice: Generation, step_s: float, cancel: threading.Event, kwargs: dict[str, Any]
) -> GenerationResult:
    """`choice` written a character a step, as a slow model writes tokens; cancel honoured."""
    on_token, on_text = kwargs.get("on_token"), kwargs.get("on_text")
    written = ""
    for char in choice.text:
        if cancel.wait(step_s):
            break
        written += char
        if on_token is not None:
            on_token(len(written))
        if on_text is not None:
            on_text(written)
    if cancel.is_set():
        done = Generation(text=written, tokens=len(written), stop_reason="cancelled")
        return GenerationResult(choices=(done,), prompt_tokens=1, generate_ms=1.0, cancelled=True)
    return GenerationResult(choices=(choice,), prompt_tokens=1, generate_ms=1.0)


class RecordingEngine:
    """Any engine, with each generate call appended to a JSON-lines file.

    A call is written when it starts (so a test can wait until the model is busy) and its
    result when it ends; `read_calls` pairs them up. Everything else (`encode`, ...) is the
    wrapped engine's, so the server takes the same paths as on the engine alone.
    """

    def __init__(self, engine: Engine, record: Path) -> None:
        self.engine = engine
        self.info = engine.info
        self.record = record
        self._calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def count_tokens(self, text: str) -> int:
        return self.engine.count_tokens(text)

    def _append(self, entry: dict[str, Any]) -> None:
        with self.record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        **kwargs: Any,
    ) -> GenerationResult:
        self._calls += 1
        call = self._calls
        self._append({"call": call, "prompt": prompt, "params": dataclasses.asdict(params)})
        result = self.engine.generate(prompt, params, cancel, **kwargs)
        choices = [dataclasses.asdict(choice) for choice in result.choices]
        self._append({"call": call, "choices": choices, "cancelled": result.cancelled})
        return result

    def close(self) -> None:
        self.engine.close()


def read_calls(record: Path) -> list[dict[str, Any]]:
    """The calls recorded so far, oldest first: `prompt`, `params`, and `choices` and
    `cancelled` once the call has ended."""
    if not record.exists():
        return []
    calls: dict[int, dict[str, Any]] = {}
    for line in record.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # being written
        entry = json.loads(line)
        calls.setdefault(entry.pop("call"), {}).update(entry)
    return list(calls.values())


def _template_setting(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The `fimTemplate` setting, from either engine factory signature: today's
    `(model, *, template=..., ...)` or `(settings, progress)`."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, Settings):
            return value.fim_template
    return kwargs.get("template")


def engine_factory(script: Path | None, record: Path | None) -> Callable[..., Engine]:
    """A factory taking whatever the service passes (`*args, **kwargs`), so it outlives a
    change of the factory's signature; without a script, the server's own default."""

    def load(*args: Any, **kwargs: Any) -> Engine:
        engine: Engine
        if script is not None:
            engine = ScriptedEngine(script, _template_setting(args, kwargs))
        else:
            engine = load_engine(*args, **kwargs)
        return engine if record is None else RecordingEngine(engine, record)

    return load


def main(argv: list[str] | None = None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--script", type=Path, default=None)
    own.add_argument("--record", type=Path, default=None)
    ours, rest = own.parse_known_args(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(["serve", *rest])
    setup_logging(args.log_level, args.log_file)

    from starcoder_ls.lsp.server import create_server

    server = create_server(settings_from_args(args), engine_factory(ours.script, ours.record))
    server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
