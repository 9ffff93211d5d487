"""`starcoder-ls eval` end to end, against the real server behind a scripted engine
(`tests/support/scripted_server.py`) whose answers the test chooses: one task is answered
right, one wrong, so the report must tell them apart. A run in which every answer came
back empty fails here (a random model's answers are empty, and would let every check on
the report's structure pass)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from starcoder_ls.cli import build_parser
from starcoder_ls.tools.driver import Driver
from starcoder_ls.tools.eval import runner
from starcoder_ls.tools.eval.nextline import nextline_tasks
from starcoder_ls.tools.eval.tasks import Task, load_humaneval, sample
from tests.support import scripted_server
from tests.support.scripted_server import write_script

DATA = Path(__file__).resolve().parents[1] / "data" / "humaneval-infilling"
SUMMARY_KEYS = {"tasks", "pass_at_1", "exact_match", "edit_similarity", "empty", "errors"}
DRAW = ["--limit", "2", "--seed", "1"]


def answering(right: Task, wrong: Task, wrong_answer: str) -> list[dict[str, Any]]:
    """Rules answering `right` with what its hole held and `wrong` with `wrong_answer`
    (the prompt holds the text just before the cursor, then `<fim_suffix>`)."""
    return [
        {"contains": task.text[: task.offset][-30:] + "<fim_suffix>", "choices": [answer]}
        for task, answer in ((right, right.expected), (wrong, wrong_answer))
    ]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The eval's server answers from the script at the returned path."""
    script = tmp_path / "script.json"
    command = [sys.executable, scripted_server.__file__, "--script", str(script)]
    start = Driver.start

    async def start_scripted(self: Driver, server_args: list[str], *args: Any, **kw: Any) -> None:
        await start(self, server_args, *args, command=command, **kw)

    monkeypatch.setattr(Driver, "start", start_scripted)
    return script


def evaluate(tmp_path: Path, *flags: str) -> dict[str, Any]:
    args = build_parser().parse_args(["eval", *flags, *DRAW])
    args.log_file = tmp_path / "server.log"
    args.json = tmp_path / "report.json"
    assert runner.run_eval(args) == 0
    return json.loads(args.json.read_text())


def test_humaneval_run_scores_a_right_and_a_wrong_answer(
    scripted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right, wrong = sample(load_humaneval(DATA, "single-line", cursor="indent"), 2, 1)
    write_script(scripted, answering(right, wrong, "return None"))
    report = evaluate(tmp_path, "single-line", "--data", str(DATA))
    stdout, stderr = capsys.readouterr()

    run = report["run"]
    assert (run["benchmark"], run["tasks"], run["tasks_available"]) == ("single-line", 2, 3)
    assert run["template"] == "starcoder" and run["settings"]["debounceMs"] == 0
    assert set(report["summary"]) == {"pipeline", "pipeline_first_line", "raw"}
    items = {item["task_id"]: item for item in report["items"]}
    assert set(items) == {right.task_id, wrong.task_id}
    for name in ("pipeline", "raw"):
        assert items[right.task_id][name]["text"] == right.expected, name
        assert items[right.task_id][name]["exact"] and items[right.task_id][name]["passed"]
        assert items[wrong.task_id][name]["text"] == "return None", name
        assert not items[wrong.task_id][name]["exact"]
        assert items[wrong.task_id][name]["passed"] is False
    for name, summary in report["summary"].items():
        assert set(summary) >= SUMMARY_KEYS, name
        assert summary["tasks"] == 2 and summary["errors"] == 0 and summary["empty"] == 0
        assert summary["pass_at_1"] == summary["exact_match"] == 0.5, name
    assert report["summary"]["pipeline"]["latency_ms"]["p90"] > 0
    assert report["summary"]["raw"]["latency_ms"] is None
    assert "pass@1" in stdout and "pipeline, 1st line" in stdout
    assert "single-line 2/2" in stderr and "programs 6/6" in stderr


def test_nextline_run_over_a_folder(
    scripted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "m.py").write_text("def double(x):\n    return x * 2\n\n\nprint(double(4))\n")
    tasks, available = nextline_tasks(sources, 2, 1)
    assert (len(tasks), available) == (2, 3)
    right, wrong = tasks
    write_script(scripted, answering(right, wrong, "pass  # not it"))
    report = evaluate(tmp_path, "nextline", "--path", str(sources))

    assert report["run"]["tasks"] == 2 and report["run"]["tasks_available"] == 3
    assert set(report["summary"]) == {"pipeline", "raw"}
    assert report["summary"]["pipeline"]["pass_at_1"] is None
    items = {item["task_id"]: item for item in report["items"]}
    assert items[right.task_id]["pipeline"]["text"] == right.expected
    assert items[right.task_id]["pipeline"]["exact"]
    assert items[wrong.task_id]["pipeline"]["text"] == "pass  # not it"
    assert report["summary"]["pipeline"]["exact_match"] == 0.5
    assert report["summary"]["pipeline"]["empty"] == 0
    assert "edit sim" in capsys.readouterr().out
