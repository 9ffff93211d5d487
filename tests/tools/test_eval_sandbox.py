"""Running completed programs: pass, fail, timeout, isolation; and the shipped test data's
canonical solutions pass while an empty answer fails."""

from __future__ import annotations

from pathlib import Path

from starcoder_ls.tools.eval.sandbox import run_program, run_programs
from starcoder_ls.tools.eval.scoring import Edit, apply
from starcoder_ls.tools.eval.tasks import HUMANEVAL_FILES, load_humaneval

DATA = Path(__file__).resolve().parents[1] / "data" / "humaneval-infilling"


def test_exit_status_zero_passes_and_an_assertion_fails() -> None:
    assert run_program("assert 1 + 1 == 2\n").passed
    failed = run_program("assert 1 + 1 == 3, 'arithmetic'\n")
    assert not failed.passed
    assert "AssertionError: arithmetic" in failed.detail


def test_a_syntax_error_fails_with_its_message() -> None:
    outcome = run_program("def f(:\n")
    assert not outcome.passed and "SyntaxError" in outcome.detail


def test_an_endless_loop_is_stopped_at_the_timeout() -> None:
    outcome = run_program("while True:\n    pass\n", timeout_s=1)
    assert not outcome.passed and outcome.detail == "timeout"


def test_programs_run_isolated_in_a_temporary_folder(tmp_path: Path) -> None:
    program = (
        "import os, sys\n"
        "assert sys.flags.isolated\n"
        "assert 'starcoder-eval-' in os.getcwd()\n"
        "assert 'PYTHONPATH' not in os.environ\n"
        "open('left-behind.txt', 'w').write('x')\n"
    )
    assert run_program(program).passed
    assert not list(Path.cwd().glob("left-behind.txt"))


def test_run_programs_keeps_the_order_and_reports_progress() -> None:
    seen: list[int] = []
    sources = ["import sys; sys.exit(0)", "import sys; sys.exit(1)", "pass"]
    outcomes = run_programs(sources, workers=2, on_done=seen.append)
    assert [o.passed for o in outcomes] == [True, False, True]
    assert seen == [1, 2, 3]


def test_test_data_canonical_solutions_pass_and_empty_answers_fail() -> None:
    canonical, empty = [], []
    for benchmark in HUMANEVAL_FILES:
        for task in load_humaneval(DATA, benchmark):
            assert task.check is not None
            right = Edit(text=task.expected, start=task.offset, end=task.offset)
            nothing = Edit(text="", start=task.offset, end=task.offset)
            canonical.append(task.check.program(apply(task, right)))
            empty.append(task.check.program(apply(task, nothing)))
    outcomes = run_programs(canonical + empty, workers=2)
    assert [o.passed for o in outcomes] == [True] * len(canonical) + [False] * len(empty)
