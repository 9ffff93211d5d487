"""`starcoder-ls eval` end to end on the tiny random StarCoder: the report's structure, not
its quality (the model's weights are random)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "humaneval-infilling"
SUMMARY_KEYS = {"tasks", "pass_at_1", "exact_match", "edit_similarity", "empty", "errors"}


def run_eval(tmp_path: Path, model: Path, *args: str) -> tuple[dict[str, Any], str, str]:
    out = tmp_path / "report.json"
    command = [sys.executable, "-m", "starcoder_ls", "eval", *args, "--model", str(model)]
    command += ["--limit", "2", "--seed", "1", "--json", str(out)]
    command += ["--log-file", str(tmp_path / "server.log"), "--settings", '{"maxNewTokens": 8}']
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + (tmp_path / "server.log").read_text()
    return json.loads(out.read_text()), done.stdout, done.stderr


@pytest.mark.slow
def test_humaneval_run_reports_every_variant(tmp_path: Path, tiny_starcoder_dir: Path) -> None:
    report, stdout, stderr = run_eval(
        tmp_path, tiny_starcoder_dir, "single-line", "--data", str(DATA)
    )
    run = report["run"]
    assert (run["benchmark"], run["tasks"], run["tasks_available"]) == ("single-line", 2, 3)
    assert run["template"] == "starcoder" and run["settings"]["debounceMs"] == 0
    assert set(report["summary"]) == {"pipeline", "pipeline_first_line", "raw"}
    for name, summary in report["summary"].items():
        assert set(summary) >= SUMMARY_KEYS, name
        assert summary["tasks"] == 2 and summary["errors"] == 0
        assert 0.0 <= summary["pass_at_1"] <= 1.0
    assert report["summary"]["pipeline"]["latency_ms"]["p90"] > 0
    assert report["summary"]["raw"]["latency_ms"] is None
    for item in report["items"]:
        assert item["pipeline"]["passed"] in (True, False)
        assert "\n" not in item["raw"]["text"]
        assert item["raw"]["uncut"].startswith(item["raw"]["text"])
    assert "pass@1" in stdout and "pipeline, 1st line" in stdout
    assert "single-line 2/2" in stderr and "programs 6/6" in stderr


@pytest.mark.slow
def test_nextline_run_over_a_folder(tmp_path: Path, tiny_starcoder_dir: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "m.py").write_text("def double(x):\n    return x * 2\n\n\nprint(double(4))\n")
    report, stdout, _ = run_eval(tmp_path, tiny_starcoder_dir, "nextline", "--path", str(sources))
    assert report["run"]["tasks"] == 2 and report["run"]["tasks_available"] == 3
    assert set(report["summary"]) == {"pipeline", "raw"}
    assert report["summary"]["pipeline"]["pass_at_1"] is None
    assert all(item["task_id"].startswith("m.py:") for item in report["items"])
    assert "edit sim" in stdout
