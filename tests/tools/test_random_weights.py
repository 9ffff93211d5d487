"""`starcoder-ls bench --random-weights starcoder`: StarCoder's shape and tokenizer conventions,
and a scaled-down run on the CPU whose report holds every figure as a number."""

from __future__ import annotations

import argparse
import math

import pytest

from starcoder_ls.cli import build_parser
from starcoder_ls.tools.bench import Report, run_bench
from starcoder_ls.tools.bench_random import Figures, as_dict, measure
from starcoder_ls.tools.random_weights import SPECIAL_TOKENS, Shape, byte_tokenizer, config

SMALL = ["--layers", "2", "--hidden", "64", "--repeat", "1", "--new-tokens", "4"]


def bench_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(
        ["bench", "--random-weights", "starcoder", "--device", "cpu", *extra]
    )


def test_the_default_shape_is_starcoder_s() -> None:
    shape = config(Shape())

    assert (shape.n_layer, shape.n_embd, shape.n_head, shape.n_inner) == (40, 6144, 48, 24576)
    assert (shape.n_positions, shape.vocab_size, shape.multi_query) == (8192, 49152, True)
    assert 15.0e9 < Shape().parameters < 16.0e9  # StarCoder-15.5B
    assert Shape.scaled(2, 64) == Shape(layers=2, hidden=64, heads=4)
    assert Shape.scaled(hidden=1024).heads == 8


def test_the_tokenizer_has_starcoder_s_ids_and_decodes_every_id() -> None:
    tokenizer = byte_tokenizer(Shape().vocab)

    assert len(tokenizer) == 49152
    assert [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == list(range(19))
    text = "def f(x):\n    return x  # é\n"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text
    assert tokenizer.encode("<fim_middle>", add_special_tokens=False) == [2]
    assert tokenizer.decode([30000, 49151]).startswith(" t")


def test_a_scaled_down_run_reports_every_figure_as_a_number() -> None:
    args = bench_args(*SMALL, "--context-tokens", "512", "--suffix-tokens", "64")
    report = Report()

    figures = measure(args, report)

    values = as_dict(figures)
    assert set(values) == {field for field in Figures.__dataclass_fields__}
    assert all(math.isfinite(value) and value >= 0 for value in values.values())
    assert 500 <= figures.prompt_tokens <= 512
    assert figures.prefill_ms > 0 and figures.decode_tokens_per_s > 0
    assert 0 < figures.line_typed_prefilled < figures.prompt_tokens / 4, "kvReuse at work"
    assert 1 <= figures.line_tokens <= 16
    names = [name for name, _ in report.rows]
    assert any(name.startswith("decode") for name in names)
    assert "peak memory" in names


def test_the_command_line_prints_the_markdown_report(capsys: pytest.CaptureFixture) -> None:
    code = run_bench(bench_args(*SMALL))  # as `main` calls it, without its logging set-up

    out = capsys.readouterr().out
    assert code == 0
    assert "StarCoder shape, random weights" in out
    assert "| single line, one typed character after it (kvReuse) |" in out


def test_the_full_shape_on_a_cpu_asks_to_scale_down() -> None:
    with pytest.raises(SystemExit, match="--layers 2 --hidden 64"):
        measure(bench_args(), Report())
