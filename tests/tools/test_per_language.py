"""`eval nextline` per language: the draw, the server-log facts and the report, without a
model (answers and log lines made up by hand)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from starcoder_ls.tools.eval.nextline import language_of, nextline_tasks, source_files
from starcoder_ls.tools.eval.per_language import by_language, language_table
from starcoder_ls.tools.eval.report import Item, variants
from starcoder_ls.tools.eval.runner import build_tasks
from starcoder_ls.tools.eval.scoring import Answer, Edit
from starcoder_ls.tools.eval.server_log import Generation, ServerLog, parse
from starcoder_ls.tools.eval.tasks import Task

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nextline"
CORPUS_LANGUAGES = ["c", "go", "java", "javascript", "python", "rust", "typescript"]


def test_the_language_comes_from_the_servers_table() -> None:
    assert language_of(Path("a.py")) == "python"
    assert language_of(Path("a.TS")) == "typescript"
    assert language_of(Path("a.h")) == "c"
    assert language_of(Path("a.rs")) == "rust"
    assert language_of(Path("a.kts")) == "kotlin"  # not in the old eval-only table
    assert language_of(Path("README.md")) is None  # prose
    assert language_of(Path("LICENSE.txt")) is None
    assert language_of(Path("Makefile")) is None


def test_the_corpus_holds_only_the_seven_languages_and_no_prose() -> None:
    files = source_files(CORPUS)
    assert files
    assert sorted({language_of(path) for path in files}) == CORPUS_LANGUAGES
    assert (CORPUS / "README.md").exists() and CORPUS / "README.md" not in files


def _tree(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "a.py").write_text("".join(f"x{i} = {i}\n" for i in range(40)))
    (tmp_path / "b.go").write_text("".join(f"var y{i} = {i}\n" for i in range(30)))
    (tmp_path / "c.rs").write_text("fn main() {}\n")
    (tmp_path / "notes.md").write_text("# words\n" * 10)
    return tmp_path


def test_per_language_draws_n_lines_in_each_language(tmp_path: Path) -> None:
    tasks, available = nextline_tasks(_tree(tmp_path), 100, 0, per_language=5)
    assert available == 71  # the markdown file is not drawn from
    counts = {lang: sum(t.language_id == lang for t in tasks) for lang in ("python", "go", "rust")}
    assert counts == {"python": 5, "go": 5, "rust": 1}  # all of a language with fewer lines
    assert {t.language_id for t in tasks} == {"python", "go", "rust"}
    lines = [t.line for t in tasks if t.language_id == "python"]
    assert lines == sorted(lines)


def test_per_language_draw_is_reproducible_and_moves_with_the_seed(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    first = [t.task_id for t in nextline_tasks(root, None, 0, per_language=5)[0]]
    assert first == [t.task_id for t in nextline_tasks(root, None, 0, per_language=5)[0]]
    assert first != [t.task_id for t in nextline_tasks(root, None, 1, per_language=5)[0]]


def test_the_committed_draw_has_25_positions_per_language() -> None:
    tasks, _ = nextline_tasks(CORPUS, None, 0, per_language=25)
    assert len(tasks) == 25 * len(CORPUS_LANGUAGES)
    assert sorted({t.language_id for t in tasks}) == CORPUS_LANGUAGES
    assert all(t.expected.strip() for t in tasks)


LOG = """\
2026-12-06 12:00:00,001 INFO starcoder_ls.completion.service: request 7: generated 128 tokens in 9000 ms (length)
2026-12-06 12:00:00,002 INFO starcoder_ls.completion.service: request 7: multi-line, 1800 prompt tokens, build_prompt_ms=3.0, total_ms=9100.0
2026-12-06 12:00:00,003 INFO starcoder_ls.completion.service: request 7: no completion: all 1 choices were filtered out
2026-12-06 12:00:00,004 INFO starcoder_ls.completion.service: request 8: cache hit
"""  # noqa: E501


def test_the_log_tells_mode_tokens_and_why_it_stopped() -> None:
    facts = parse(LOG.splitlines())
    assert facts == Generation(
        mode="multi-line",
        tokens=128,
        stop_reason="length",
        generate_ms=9000.0,
        prompt_tokens=1800,
        refused="all 1 choices were filtered out",
    )


def test_a_trigger_skip_and_a_cache_hit_generate_nothing() -> None:
    skip = parse(["x INFO s: request 3: no completion: no completion makes sense at this position"])
    assert skip.mode == "skip" and skip.tokens is None
    hit = parse(
        ["x INFO s: request 4: cache hit", "x INFO s: request 4: single-line, 9 prompt tokens"]
    )
    assert hit.cache_hit and hit.tokens is None and hit.mode == "single-line"


def test_an_invoked_request_counts_its_first_choice() -> None:
    facts = parse(["request 5: generated 12/30/41 tokens in 800 ms (stop/length/eos)"])
    assert (facts.tokens, facts.stop_reason) == (12, "stop")


def test_server_log_reads_only_what_was_written_since(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("request 1: generated 5 tokens in 10 ms (stop)\n")  # an earlier run's
    log = ServerLog(path)
    assert log.take() == Generation()
    with path.open("a") as stream:
        stream.write(LOG + "request 9: generated 3 tok")  # the last line still being written
    assert log.take().tokens == 128
    with path.open("a") as stream:
        stream.write("ens in 5 ms (eos)\n")
    assert log.take().tokens == 3


def _item(language: str, expected: str, shown: str, raw: str, generation: Generation) -> Item:
    text = "x = \n"
    task = Task(
        task_id=f"f.{language}:1:5",
        path=f"f.{language}",
        language_id=language,
        text=text,
        line=0,
        column=4,
        expected=expected,
    )
    item = Item(task=task, generation=generation)

    def answer(words: str, ms: float) -> Answer:
        return Answer(edit=Edit(text=words, start=4, end=4), latency_ms=ms)

    item.results = variants(task, answer(shown, 1000.0), answer(raw, 5.0), humaneval=False)
    return item


ONE = Generation(mode="single-line", tokens=4, stop_reason="stop")
BLOCK = Generation(mode="multi-line", tokens=128, stop_reason="length")


def test_by_language_scores_pipeline_and_raw_and_counts_multi_line_tokens() -> None:
    items = [
        _item("go", "1", "1", "1", ONE),
        _item("go", "2", "", "2", BLOCK),
        _item("go", "3", "3\n}", "3", BLOCK),
        _item("python", "4", "5", "4", Generation(mode="skip")),
    ]
    languages = by_language(items)
    assert list(languages) == ["go", "python"]
    go = languages["go"]
    assert go["tasks"] == 3
    assert go["pipeline"]["exact_match"] == 2 / 3 and go["raw"]["exact_match"] == 1.0
    assert go["pipeline"]["empty_count"] == 1 and go["raw"]["empty_count"] == 0
    requests = go["requests"]
    assert requests["generated"] == 3 and requests["tokens_median"] == 128
    assert requests["at_max_tokens"] == 2 and requests["p50_ms"] == 1000.0
    assert requests["multi-line"] == {
        "requests": 2,
        "tokens_median": 128,
        "at_max_tokens": 2,
        "p50_ms": 1000.0,
    }
    assert requests["single-line"]["requests"] == 1
    python = languages["python"]["requests"]
    assert python["generated"] == 0 and python["tokens_median"] is None
    assert python["multi-line"]["requests"] == 0


def test_the_language_table_has_a_row_per_language() -> None:
    items = [_item("go", "1", "1", "2", ONE), _item("rust", "1", "1", "1", BLOCK)]
    text = language_table(by_language(items))
    lines = text.strip().split("\n")
    assert lines[0].split()[0] == "language"
    rows = {line.split()[0]: line for line in lines[1:] if not line.startswith("-")}
    assert set(rows) == {"go", "rust"}
    assert "100% / 0%" in rows["go"] and "1, 128, 1" in rows["rust"]
    assert language_table({}) == ""


def test_an_item_without_a_log_reports_no_tokens() -> None:
    item = _item("c", "1", "1", "1", ONE)
    item.generation = None
    requests = by_language([item])["c"]["requests"]
    assert requests["generated"] == 0 and requests["tokens_median"] is None
    assert not math.isnan(requests["p50_ms"])
    assert item.to_json()["generation"] is None and item.to_json()["language"] == "c"


def test_only_asks_the_named_tasks_of_the_same_draw(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src")
    args = argparse.Namespace(
        benchmark="nextline",
        path=root,
        limit=None,
        seed=0,
        open_related=0,
        per_language=5,
        only=None,
    )
    every, available, _ = build_tasks(args)
    chosen = [every[1].task_id, every[7].task_id]
    (tmp_path / "ids.txt").write_text("\n".join(chosen) + "\n\n")
    args.only = tmp_path / "ids.txt"
    tasks, again, _ = build_tasks(args)
    assert [t.task_id for t in tasks] == chosen and again == available
    (tmp_path / "ids.txt").write_text("nowhere.py:1:1\n")
    with pytest.raises(SystemExit, match="nowhere"):
        build_tasks(args)
