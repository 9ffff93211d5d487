"""Eval tasks: HumanEval rows become documents with a cursor, next-line tasks are cut from
source folders, and draws are reproducible."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from starcoder_ls.tools.eval.nextline import nextline_tasks
from starcoder_ls.tools.eval.scoring import Edit, apply
from starcoder_ls.tools.eval.tasks import HUMANEVAL_FILES, humaneval_task, load_humaneval, sample

DATA = Path(__file__).resolve().parents[1] / "data" / "humaneval-infilling"

LINE_ROW = {
    "task_id": "SingleLineInfilling/HumanEval/0/L1",
    "entry_point": "f",
    "prompt": "def f(x):\n    if x:\n",
    "canonical_solution": "        return 1\n",
    "suffix": "    return 2\n",
    "test": "def check(c):\n    assert c(1) == 1\n",
}
SPAN_ROW = {
    **LINE_ROW,
    "prompt": "def f(x):\n    if x:\n        ret",
    "canonical_solution": "urn 1",
}
SPAN_ROW["suffix"] = "\n    return 2\n"


def reference(row: dict[str, str]) -> str:
    return row["prompt"] + row["canonical_solution"] + row["suffix"]


def test_whole_line_hole_leaves_an_indented_empty_line_with_the_cursor_after_the_indent() -> None:
    task = humaneval_task(LINE_ROW, whole_lines=True, cursor="indent")
    assert task.text == "def f(x):\n    if x:\n        \n    return 2\n"
    assert (task.line, task.column) == (2, 8)
    assert task.expected == "return 1"
    assert task.path == "SingleLineInfilling_HumanEval_0_L1.py"


def test_line_start_cursor_leaves_the_indentation_to_the_model() -> None:
    task = humaneval_task(LINE_ROW, whole_lines=True, cursor="line-start")
    assert task.text == "def f(x):\n    if x:\n\n    return 2\n"
    assert (task.line, task.column) == (2, 0)
    assert task.expected == "        return 1"


@pytest.mark.parametrize("cursor", ["indent", "line-start"])
def test_inserting_the_expected_text_rebuilds_the_original_program(cursor: str) -> None:
    for row, whole in ((LINE_ROW, True), (SPAN_ROW, False)):
        task = humaneval_task(row, whole_lines=whole, cursor=cursor)
        edit = Edit(text=task.expected, start=task.offset, end=task.offset)
        assert apply(task, edit) == reference(row)


def test_random_span_cursor_is_mid_line_with_the_rest_of_the_line_after_it() -> None:
    task = humaneval_task(SPAN_ROW, whole_lines=False, cursor="indent")
    assert (task.line, task.column) == (2, 11)
    assert task.text.split("\n")[2] == "        ret"
    assert task.expected == "urn 1"


def test_unknown_cursor_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="cursor"):
        humaneval_task(LINE_ROW, whole_lines=True, cursor="middle")


def test_program_is_the_completed_document_then_the_test_then_check() -> None:
    task = humaneval_task(LINE_ROW, whole_lines=True, cursor="indent")
    assert task.check is not None
    program = task.check.program("CODE")
    assert program.startswith("CODE\n")
    assert program.index("def check(c)") < program.index("check(f)")


@pytest.mark.parametrize("benchmark", list(HUMANEVAL_FILES))
def test_loads_the_test_data_uncompressed_and_gzipped(benchmark: str, tmp_path: Path) -> None:
    plain = load_humaneval(DATA, benchmark)
    source = DATA / HUMANEVAL_FILES[benchmark].removesuffix(".gz")
    with source.open("rb") as raw, gzip.open(tmp_path / HUMANEVAL_FILES[benchmark], "wb") as gz:
        shutil.copyfileobj(raw, gz)
    assert load_humaneval(tmp_path, benchmark) == plain
    assert len(plain) == 3
    assert all(task.check is not None and task.language_id == "python" for task in plain)


def test_missing_data_names_the_flag_to_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--data"):
        load_humaneval(tmp_path, "single-line")


def test_sample_is_reproducible_ordered_and_seed_dependent() -> None:
    items = list(range(1000))
    first = sample(items, 20, seed=3)
    assert first == sample(items, 20, seed=3)
    assert first == sorted(first) and len(set(first)) == 20
    assert first != sample(items, 20, seed=4)
    assert sample(items, None, seed=3) == items
    assert sample(items[:5], 20, seed=3) == items[:5]


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os\n\n\ndef f(x):\n    return os.sep + x\n")
    (tmp_path / "b.js").write_text("function g(a) {\n  return a * 2;\n}\n")
    (tmp_path / "notes.txt").write_text("not source code\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "c.py").write_text("skipped = True\n")
    return tmp_path


def test_nextline_cuts_a_line_after_its_indentation_and_expects_the_rest(sources: Path) -> None:
    tasks, available = nextline_tasks(sources, None, seed=0)
    assert available == 5  # lines with a word in them; `}` and blank lines are not asked
    assert {task.path for task in tasks} == {"pkg/a.py", "b.js"}
    for task in tasks:
        original = (sources / task.path).read_text().split("\n")[task.line]
        line = task.text.split("\n")[task.line]
        indent = len(original) - len(original.lstrip())
        assert indent <= task.column < len(original)
        assert line == original[: task.column] and line + task.expected == original
        assert task.check is None
    assert {t.language_id for t in tasks} == {"python", "javascript"}


def test_nextline_draw_depends_only_on_files_and_seed(sources: Path) -> None:
    first, _ = nextline_tasks(sources, 3, seed=1)
    again, _ = nextline_tasks(sources, 3, seed=1)
    assert first == again and len(first) == 3
    assert [t.task_id for t in first] != [t.task_id for t in nextline_tasks(sources, 3, seed=2)[0]]


def test_nextline_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nextline_tasks(tmp_path / "nowhere", 3, seed=0)


def test_open_related_opens_the_files_the_task_file_names(tmp_path: Path) -> None:
    (tmp_path / "units.py").write_text("def celsius_to_rankine(c):\n    return c * 1.8 + 491.67\n")
    (tmp_path / "other.py").write_text("def unrelated():\n    return 0\n")
    (tmp_path / "app.py").write_text(
        "from units import celsius_to_rankine\n\nprint(celsius_to_rankine(20))\n"
    )
    tasks, _ = nextline_tasks(tmp_path, None, seed=0, open_related=3)
    by_file = {}
    for task in tasks:
        by_file.setdefault(task.path, set()).add(tuple(r.path for r in task.related))
    assert by_file["app.py"] == {("units.py",)}
    assert by_file["units.py"] == {()} and by_file["other.py"] == {()}
    (related,) = next(t for t in tasks if t.path == "app.py").related
    assert related.language_id == "python" and "celsius_to_rankine" in related.text
    assert all(not t.related for t in nextline_tasks(tmp_path, None, seed=0)[0])
