"""`starcoder-ls bench --speculation-check` on a tiny random StarCoder: every variant is
measured and the answers with prompt lookup are the plain greedy ones."""

from __future__ import annotations

from pathlib import Path

from starcoder_ls.cli import build_parser
from starcoder_ls.tools.bench_speculation import bench_speculation
from starcoder_ls.tools.shared import Report


def test_prompt_lookup_is_measured_and_answers_as_plain_greedy(tiny_starcoder_dir: Path) -> None:
    args = build_parser().parse_args(
        ["bench", "--model", str(tiny_starcoder_dir), "--device", "cpu", "--dtype", "float32"]
        + ["--speculation-check", "--prompt-lookup", "0,2", "--requests", "2", "--repeat", "1"]
        + ["--new-tokens", "4", "--reuse-prompt-tokens", "64"]
    )
    report = Report()
    bench_speculation(args, report)
    figures = dict(report.rows)
    assert set(figures) >= {"model", "decode, plain greedy", "decode, promptLookup 2"}
    assert "forward passes per token" in figures["decode, promptLookup 2"]
    assert figures["same answers as plain greedy"] == "yes"
    assert figures["setting"].startswith("2 prompts of 64 tokens, 4 new tokens")
