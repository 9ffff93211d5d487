"""Evaluation tasks: a document with a hole, the cursor where an editor user would stand,
and what the hole held.

A task knows nothing of LSP or of the model; `client.py` opens `text` in the server and asks
for a completion at (`line`, `column`), and `scoring.py` compares the answer with `expected`.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

HUMANEVAL_FILES = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}
"""Benchmark name on the command line -> data file in the HumanEval infilling folder."""

CURSOR_MODES = ("indent", "line-start")
"""Where the cursor goes for whole-line holes; see `humaneval_task`."""

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Check:
    """How to run a HumanEval task: the completed document, then `test`, then `check(...)`."""

    test: str
    entry_point: str

    def program(self, completed: str) -> str:
        return f"{completed}\n\n{self.test}\n\ncheck({self.entry_point})\n"


@dataclass(frozen=True)
class Related:
    """A file kept open beside the task's document, as a user's other editor tabs."""

    path: str
    language_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Task:
    task_id: str
    path: str
    """File name the document is opened under (the server may show it to the model)."""
    language_id: str
    text: str
    """The document as opened: the hole removed, the rest of the file intact."""
    line: int
    column: int
    """Cursor column as a Python string index (the client converts it to UTF-16 units)."""
    expected: str
    """What the hole held, from the cursor on: the ideal completion."""
    check: Check | None = None
    """Present for HumanEval tasks, whose completed program can be run."""
    related: tuple[Related, ...] = ()
    """Other files open in the editor while this task is asked (`nextline --open-related`)."""

    @property
    def offset(self) -> int:
        """The cursor as an index into `text`."""
        start = 0
        for _ in range(self.line):
            start = self.text.index("\n", start) + 1
        return start + self.column


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Rows of a `.jsonl` or `.jsonl.gz` file (the test data is small and uncompressed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def humaneval_task(row: dict[str, object], *, whole_lines: bool, cursor: str) -> Task:
    """One HumanEval infilling row as an editor user would meet it.

    Whole-line holes (single- and multi-line benchmarks) include the hole's indentation and
    its newline. A user about to write that code has pressed Enter on the line before and
    the editor has indented the new, empty line: so the document keeps an empty line where
    the hole was and, with `cursor="indent"`, the canonical indentation on it, the cursor
    after it. That gives the model the indentation level, which the paper's FIM setting
    does not; `cursor="line-start"` leaves the empty line unindented and the cursor at
    column 0, so the completion must bring its own indentation.

    Random spans may start and end mid-line: the hole is simply cut out and the cursor put
    where it was, with the text after it still on the line.
    """
    prompt, suffix = str(row["prompt"]), str(row["suffix"])
    solution = str(row["canonical_solution"])
    line = prompt.count("\n")
    if whole_lines:
        if cursor not in CURSOR_MODES:
            raise ValueError(f"cursor must be one of {', '.join(CURSOR_MODES)}, not {cursor!r}")
        first = solution.split("\n", 1)[0]
        indent = first[: len(first) - len(first.lstrip())] if cursor == "indent" else ""
        text = f"{prompt}{indent}\n{suffix}"
        column = len(indent)
        expected = solution[len(indent) :].removesuffix("\n")
    else:
        text = prompt + suffix
        column = len(prompt) - (prompt.rfind("\n") + 1)
        expected = solution
    task_id = str(row["task_id"])
    return Task(
        task_id=task_id,
        path=task_id.replace("/", "_") + ".py",
        language_id="python",
        text=text,
        line=line,
        column=column,
        expected=expected,
        check=Check(test=str(row["test"]), entry_point=str(row["entry_point"])),
    )


def load_humaneval(data_dir: Path, benchmark: str, *, cursor: str = "indent") -> list[Task]:
    """All tasks of one benchmark, in file order, from `data_dir` (`.jsonl.gz` or `.jsonl`)."""
    if benchmark not in HUMANEVAL_FILES:
        raise ValueError(f"unknown benchmark {benchmark!r}: one of {', '.join(HUMANEVAL_FILES)}")
    path = data_dir / HUMANEVAL_FILES[benchmark]
    if not path.exists() and path.with_suffix("").exists():
        path = path.with_suffix("")  # uncompressed, as the test data is
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --data DIR (the humaneval-infilling folder)"
        )
    whole_lines = benchmark != "random-span"
    return [humaneval_task(row, whole_lines=whole_lines, cursor=cursor) for row in read_jsonl(path)]


def sample(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """`limit` items drawn with `seed`, kept in their original order; all when limit is None.

    Keeping the original order makes a run with a larger limit easy to compare by eye, and
    the draw depends only on (len(items), limit, seed), so it is the same on every machine.
    """
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]
