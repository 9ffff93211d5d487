"""Next-line tasks over any folder of source files: cut a line at a seeded random column
after its indentation and ask for the rest of it.

This measures the everyday case, finishing the line being typed, on code the user picks
(the project itself, a work repository), where HumanEval only knows short Python functions.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from starcoder_ls.text import languages
from starcoder_ls.tools.eval.tasks import Related, Task

NOT_CODE = frozenset({"markdown", "latex"})
"""Languages of `languages.py` that are prose: their lines are not what a code model is
measured on (a corpus's README, for one)."""


def language_of(path: Path) -> str | None:
    """The LSP language id of a source file, from `languages.py` (the server's own table),
    or None for a file that is not code."""
    language = languages.by_extension(path.suffix) if path.suffix else None
    if language is None or language.id in NOT_CODE:
        return None
    return language.id


MAX_FILE_CHARS = 200_000
"""Bigger files are mostly generated code or data, not what a user types."""
SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"})


@dataclass(frozen=True)
class _Line:
    path: Path
    number: int


def source_files(root: Path) -> list[Path]:
    """Source files under `root` (or `root` itself), sorted so the sample is reproducible."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is neither a file nor a folder")
    found = [
        path
        for path in root.rglob("*")
        if language_of(path) is not None
        and path.is_file()
        and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)
    ]
    return sorted(found)


def _worth_completing(line: str) -> bool:
    """A line with a word in it: lone brackets and blank lines are not what users wait for."""
    return any(ch.isalnum() for ch in line)


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) <= MAX_FILE_CHARS and "\x00" not in text else None


def nextline_tasks(
    root: Path,
    limit: int | None,
    seed: int,
    *,
    open_related: int = 0,
    per_language: int | None = None,
) -> tuple[list[Task], int]:
    """`limit` tasks from the lines under `root`, the same for the same files and seed, and
    the number of lines they were drawn from.

    Lines are drawn uniformly from all eligible lines (not per file), then the column
    uniformly from the end of the indentation to the last non-blank character, so both
    whole-line and mid-line completions are asked for. With `per_language`, `limit` is
    ignored and that many lines are drawn in each language instead (all of a language's
    lines where it has fewer), so that a folder mostly of one language still measures
    the others; languages are drawn in the order of their ids. With `open_related`, each task
    also opens up to that many other files of the folder that its file names (see
    `related_files`), as the tabs a user has open beside it.
    """
    texts: dict[Path, str] = {}
    candidates: list[_Line] = []
    for path in source_files(root):
        text = _read(path)
        if text is None:
            continue
        texts[path] = text
        for number, line in enumerate(text.split("\n")):
            if _worth_completing(line):
                candidates.append(_Line(path, number))
    available = len(candidates)
    rng = random.Random(seed)
    if per_language is not None:
        candidates = _draw_per_language(candidates, per_language, rng)
    elif limit is not None and limit < len(candidates):
        picked = sorted(rng.sample(range(len(candidates)), limit))
        candidates = [candidates[i] for i in picked]
    base = root if root.is_dir() else root.parent
    tasks = [_cut(texts[c.path], c, rng, base) for c in candidates]
    if open_related:
        tasks = [
            dataclasses.replace(task, related=related_files(task, texts, base, open_related))
            for task in tasks
        ]
    return tasks, available


def _draw_per_language(candidates: list[_Line], count: int, rng: random.Random) -> list[_Line]:
    """`count` lines of each language, each language's in file order."""
    grouped: dict[str, list[_Line]] = {}
    for candidate in candidates:
        grouped.setdefault(str(language_of(candidate.path)), []).append(candidate)
    drawn: list[_Line] = []
    for language in sorted(grouped):
        lines = grouped[language]
        if count < len(lines):
            lines = [lines[i] for i in sorted(rng.sample(range(len(lines)), count))]
        drawn.extend(lines)
    return drawn


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GENERIC_STEMS = frozenset({"__init__", "__main__", "index", "main", "mod", "lib", "types"})
"""File names too common in code to say that a file uses that module."""


def related_files(
    task: Task, texts: dict[Path, str], base: Path, limit: int
) -> tuple[Related, ...]:
    """Up to `limit` other files whose name (stem) the task's document uses as a word, most
    used first: the modules it imports or calls into, whatever the language.

    The task's own document is the one with the line cut, so what it says of the others
    (imports above the cursor) is what a user's open tabs would follow.
    """
    words = Counter(_WORD.findall(task.text))
    scored = []
    for path in texts:
        relative = path.relative_to(base).as_posix()
        if relative == task.path or path.stem in _GENERIC_STEMS or not words[path.stem]:
            continue
        scored.append((-words[path.stem], relative, path))
    scored.sort()
    return tuple(
        Related(relative, str(language_of(path)), texts[path])
        for _, relative, path in scored[:limit]
    )


def _cut(text: str, where: _Line, rng: random.Random, base: Path) -> Task:
    lines = text.split("\n")
    line = lines[where.number].rstrip()
    indent = len(line) - len(line.lstrip())
    column = rng.randrange(indent, len(line))
    lines[where.number] = line[:column]
    relative = where.path.relative_to(base).as_posix()
    return Task(
        task_id=f"{relative}:{where.number + 1}:{column + 1}",
        path=relative,
        language_id=str(language_of(where.path)),
        text="\n".join(lines),
        line=where.number,
        column=column,
        expected=line[column:],
    )
