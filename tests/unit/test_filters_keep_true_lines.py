"""A filter never drops the true line (issue 19).

At every position that `starcoder-ls eval nextline --path tests/data/nextline
--per-language 25 --seed 0` draws, the model is assumed to write exactly what the file
holds: the rest of the cursor line and, where the trigger asks for a block, the lines
below it. That text goes where the server's generation goes: cut at the engine's stop
strings for the request (`plan.stops`, a prefix-only prompt as the embedded model's),
then through every post-processing filter with the default settings. What the editor
would show must begin with the true rest of the line, unchanged; a multi-line answer may
be cut shorter, but each line it keeps must be the file's own.

Positions where the trigger declines (inside a name, a word typed in a comment) ask the
model nothing, so no filter sees them; they are counted, not asserted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pytest

from starcoder_ls import postprocess
from starcoder_ls.completion import plan, trigger
from starcoder_ls.completion.request import CompletionRequest, locate
from starcoder_ls.config import Settings
from starcoder_ls.cursor.context import character_to_units
from starcoder_ls.cursor.prompt import Prompt
from starcoder_ls.engine.stopping import cut_at_stop
from starcoder_ls.text.types import CompletionContext, Mode
from starcoder_ls.tools.eval.nextline import nextline_tasks
from starcoder_ls.tools.eval.tasks import Task

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nextline"
PER_LANGUAGE = 25
SEED = 0
LANGUAGES = {"c", "go", "java", "javascript", "python", "rust", "typescript"}
BLOCK_LINES = 12
"""Lines below the cursor line a multi-line answer is given: more than 128 tokens of
these files, the most the server generates by default."""


@dataclass(frozen=True)
class Outcome:
    task: Task
    mode: Mode
    fed: str
    shown: str | None
    """The suggestion's text; None when a filter dropped it."""
    dropped_by: str | None = None


def _tasks() -> list[Task]:
    tasks, _ = nextline_tasks(CORPUS, None, SEED, per_language=PER_LANGUAGE)
    return tasks


TASKS = _tasks()


def _context(task: Task) -> CompletionContext:
    """The cursor's context as the server builds it from an LSP request."""
    line_text = task.text.split("\n")[task.line]
    request = CompletionRequest(
        uri=(CORPUS / task.path).as_uri(),
        version=1,
        language_id=task.language_id,
        text=task.text,
        line=task.line,
        character=character_to_units(line_text, task.column, "utf-16"),
        encoding="utf-16",
    )
    return locate(request)


def _truth(task: Task, mode: Mode) -> str:
    """What a model that knew the file would write from the cursor."""
    if mode is not Mode.MULTI_LINE:
        return task.expected
    below = task.text.split("\n")[task.line + 1 : task.line + 1 + BLOCK_LINES]
    return "\n".join([task.expected, *below])


def _dropped_by(text: str, ctx: CompletionContext, mode: Mode, skip: Collection[str]) -> str | None:
    """The first filter that returns None for `text`, run in the pipeline's order."""
    for step in postprocess.FILTERS:
        if step.__name__ in skip:
            continue
        result = step(text, ctx, mode)
        if result is None:
            return step.__name__
        text = result
    return None


def outcome(task: Task, settings: Settings | None = None) -> Outcome:
    settings = settings or Settings()
    ctx = _context(task)
    mode = trigger.decide(ctx, multiline=settings.multiline)
    if mode is Mode.SKIP:
        return Outcome(task, mode, "", None)
    prompt = Prompt(text=ctx.prefix, prefix=ctx.prefix, suffix="", context="", tokens=0)
    fed, _ = cut_at_stop(_truth(task, mode), plan.stops(ctx, prompt, mode, settings))
    suggestion = postprocess.run(fed, ctx, mode, skip=settings.disabled_filters)
    if suggestion is None:
        return Outcome(
            task, mode, fed, None, _dropped_by(fed, ctx, mode, settings.disabled_filters)
        )
    return Outcome(task, mode, fed, suggestion.text)


def kept_true_lines(result: Outcome) -> bool:
    """The shown text starts with the true rest of the line, and every later line it
    shows is the file's next line (trailing blanks aside)."""
    if result.shown is None:
        return False
    shown = [line.rstrip() for line in result.shown.split("\n")]
    truth = [line.rstrip() for line in _truth(result.task, result.mode).split("\n")]
    return len(shown) <= len(truth) and shown == truth[: len(shown)]


def describe(result: Outcome) -> str:
    where = f"{result.task.task_id} ({result.mode.value})"
    if result.shown is None:
        return f"{where}: {result.dropped_by} dropped {result.fed!r}"
    return f"{where}: {result.fed!r} shown as {result.shown!r}"


def test_the_draw_covers_every_language() -> None:
    counts: dict[str, int] = {}
    for task in TASKS:
        counts[task.language_id] = counts.get(task.language_id, 0) + 1
    assert counts == dict.fromkeys(sorted(LANGUAGES), PER_LANGUAGE)


def test_most_positions_reach_the_filters() -> None:
    """The trigger declines few of these positions, or this test would check little."""
    asked = [task for task in TASKS if outcome(task).mode is not Mode.SKIP]
    assert len(asked) >= 0.7 * len(TASKS)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_filters_keep_the_true_line(language: str) -> None:
    results = [outcome(task) for task in TASKS if task.language_id == language]
    assert results
    failed = [
        describe(result)
        for result in results
        if result.mode is not Mode.SKIP and not kept_true_lines(result)
    ]
    assert not failed, "\n".join(failed)
