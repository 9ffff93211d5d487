"""`bench replay`'s pure parts: regions, key timing, what the editor shows and accepts,
counters from `starcoder.stats`, and the report; then the session's bookkeeping of answers
(shown, stale, overtaken) against a scripted driver, without a server."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import Future
from typing import Any

import pytest
from lsprotocol import types

from starcoder_ls.tools.replay.counters import (
    Answered,
    Counters,
    Read,
    from_stats,
    overhead_samples,
)
from starcoder_ls.tools.replay.editors import accepts, ghost_text
from starcoder_ls.tools.replay.regions import (
    Source,
    Typing,
    candidate_starts,
    choose_regions,
    make_region,
    make_schedule,
    next_key,
)
from starcoder_ls.tools.replay.report import RunResult, markdown, rows
from starcoder_ls.tools.replay.session import Session, Tally

CODE = """import os


def total(values):
    \"\"\"Add them up.

    Docstring lines are not retyped.
    \"\"\"
    result = 0
    for value in values:
        result += value
    return result


# a comment
class Box:
    def __init__(self, size):
        self.size = size
        self.items = []
"""


# -- regions --------------------------------------------------------------------------


def test_region_retyped_in_place_gives_the_file_back() -> None:
    source = Source(path="m.py", text=CODE)
    for start in candidate_starts(CODE, 2):
        region = make_region(source, start, 2)
        assert region.original == CODE
        assert not region.typed[:1].isspace()
        first = CODE.split("\n")[start]
        assert region.before.endswith(first[: len(first) - len(first.lstrip())])


def test_region_at_the_end_of_a_file_without_final_newline() -> None:
    text = "a = 1\nb = 2"
    region = make_region(Source(path="m.py", text=text), 0, 2)
    assert (region.before, region.typed, region.after) == ("", "a = 1\nb = 2", "")


def test_candidates_skip_blank_comment_docstring_and_long_lines() -> None:
    rows = CODE.split("\n")
    starts = candidate_starts(CODE, 2)
    covered = {i for start in starts for i in (start, start + 1)}
    assert rows.index("    result = 0") in covered
    assert not covered & {i for i, row in enumerate(rows) if '"""' in row or "Docstring" in row}
    assert not covered & {i for i, row in enumerate(rows) if not row.strip() or "#" in row}
    long_line = "x = " + "1 + " * 30 + "1"
    assert candidate_starts(f"a = 1\n{long_line}\nb = 2\n", 2) == []


def test_regions_are_seeded_and_do_not_overlap() -> None:
    sources = [Source(path=f"m{i}.py", text=CODE) for i in range(3)]
    first = choose_regions(sources, 4, 2, seed=7)
    assert first == choose_regions(sources, 4, 2, seed=7)
    assert len(first) == 4
    assert first != choose_regions(sources, 4, 2, seed=8)
    for a in first:
        for b in first:
            if a is not b and a.path == b.path:
                assert abs(a.line - b.line) >= 2
    assert [(r.path, r.line) for r in first] == sorted((r.path, r.line) for r in first)


# -- key timing ---------------------------------------------------------------------


TYPED = "result = add(a, b)\n    return result"
"""The user types line 1's rest, Enter (with auto-indent), then line 2."""


def test_schedule_is_reproducible_from_the_seed() -> None:
    typing = Typing()
    one = make_schedule(TYPED, typing, random.Random("0:1"))
    assert one == make_schedule(TYPED, typing, random.Random("0:1"))
    assert one != make_schedule(TYPED, typing, random.Random("0:2"))
    assert len(one.delays) == len(one.pauses) == len(TYPED) + 1


def test_pauses_at_each_new_line_and_at_the_end_only_without_chance() -> None:
    typing = Typing(keys_per_second=10, pause=(0.6, 1.2), pause_chance=0.0)
    schedule = make_schedule(TYPED, typing, random.Random(1))
    paused = [i for i, pause in enumerate(schedule.pauses) if pause]
    assert paused == [TYPED.index("return"), len(TYPED)]
    for delay, pause in zip(schedule.delays, schedule.pauses, strict=True):
        if pause:
            assert 0.6 <= delay <= 1.2
        else:
            assert 0.1 / 3 <= delay <= 0.1 * 3


def test_every_word_boundary_pauses_with_chance_one() -> None:
    schedule = make_schedule(TYPED, Typing(pause_chance=1.0), random.Random(1))
    paused = {i for i, pause in enumerate(schedule.pauses) if pause}
    # after "result ", "= ", "add(", "a, ", "b" has "(" or " " before it
    assert {TYPED.index("= "), TYPED.index("add"), TYPED.index("a,"), TYPED.index("b)")} <= paused
    assert 0 not in paused


def test_keys_enter_carries_the_indentation_and_indentation_is_one_key() -> None:
    assert next_key(TYPED, 0) == "r"
    enter = TYPED.index("\n")
    assert next_key(TYPED, enter) == "\n    "
    assert next_key(TYPED, enter + 1) == "    "  # after a suggestion that ended at "\n"
    assert next_key(TYPED, TYPED.index(" = ")) == " "


# -- what the editor shows and the user accepts --------------------------------------


def item(text: str, start: int | None = None, line: int = 3) -> types.InlineCompletionItem:
    span = None
    if start is not None:
        span = types.Range(
            start=types.Position(line=line, character=start),
            end=types.Position(line=line, character=start),
        )
    return types.InlineCompletionItem(insert_text=text, range=span)


def test_ghost_text_is_what_continues_the_typed_line() -> None:
    assert ghost_text(item("add(a, b)"), 3, "x = ") == "add(a, b)"
    assert ghost_text(item("add(a, b)", start=4), 3, "x = ") == "add(a, b)"
    # An item replacing the word being typed shows only what comes after it.
    assert ghost_text(item("add(a, b)", start=4), 3, "x = ad") == "d(a, b)"
    assert ghost_text(item("sub(a, b)", start=4), 3, "x = ad") is None
    assert ghost_text(item("add(a, b)", start=4, line=2), 3, "x = ") is None
    assert ghost_text(item("add()", start=9), 3, "x = ") is None
    # Positions are UTF-16: "😀" is two code units.
    assert ghost_text(item("b", start=5), 3, "s='😀") == "b"
    assert ghost_text(item("😀b", start=3), 3, "s='😀") == "b"
    assert ghost_text(item("b", start=6), 3, "s='😀") is None


def test_user_accepts_only_what_they_were_about_to_type() -> None:
    assert accepts("add(a", "add(a, b)\n")
    assert accepts("add(a, b)\n", "add(a, b)\n")
    assert not accepts("add(b", "add(a, b)\n")
    assert not accepts("   ", "   x")
    assert not accepts("", "x")


# -- counters -------------------------------------------------------------------------


def test_stats_map_to_counters_and_subtract() -> None:
    stats = {
        "requests": 10,
        "suggested": 4,
        "modelCalls": 3,
        "promptTokens": 300,
        "prefilledTokens": 120,
        "generatedTokens": 21,
        "engineMs": 90.5,
        "cacheHits": 1,
        "typedAheadHits": 2,
    }
    later = from_stats(stats)
    assert (later.model_calls, later.prefilled_tokens, later.generated_tokens) == (3, 120, 21)
    delta = later - from_stats(stats | {"modelCalls": 1, "prefilledTokens": 100, "engineMs": 0.5})
    assert (delta.model_calls, delta.prefilled_tokens, delta.engine_ms) == (2, 20, 90.0)


def test_kept_generations_and_warm_ups_are_read_from_the_stats() -> None:
    stats = {"adoptedGenerations": 5, "abandonedGenerations": 2, "warmups": 3}
    counters = from_stats(stats | {"warmupsCompleted": 1})
    assert (counters.adopted, counters.abandoned) == (5, 2)
    assert (counters.warmups, counters.warmups_completed) == (3, 1)


def test_an_answer_from_a_kept_generation_gives_no_overhead_sample() -> None:
    """Its engine time began keystrokes earlier: end-to-end minus it would be a guess."""
    before = Read(sent_seq=0, seq=1, counters=Counters())
    after = Read(sent_seq=2, seq=3, counters=Counters(model_calls=1, engine_ms=900, adopted=1))
    assert overhead_samples([Answered(seq=2, e2e_ms=100)], [before, after]) == []
    plain = Read(sent_seq=2, seq=3, counters=Counters(model_calls=1, engine_ms=90))
    assert overhead_samples([Answered(seq=2, e2e_ms=100)], [before, plain]) == [10]


def reading(sent_seq: int, seq: int, calls: int, engine_ms: float, hits: int = 0) -> Read:
    counters = Counters(model_calls=calls, engine_ms=engine_ms, cache_hits=hits)
    return Read(sent_seq=sent_seq, seq=seq, counters=counters)


def test_overhead_only_where_one_model_call_ran_between_two_reads() -> None:
    reads = [
        reading(0, 1, calls=0, engine_ms=0),
        reading(2, 3, calls=1, engine_ms=400),  # answer 2: one call of 400 ms
        reading(4, 5, calls=3, engine_ms=900),  # answer 4: two calls, unknown split
        reading(6, 7, calls=4, engine_ms=1000, hits=1),  # answer 6: a cache hit too
        reading(8, 9, calls=5, engine_ms=1200, hits=1),  # answer 8: one call of 200 ms
    ]
    answers = [Answered(seq=s, e2e_ms=e) for s, e in ((2, 450), (4, 1000), (6, 200), (8, 230))]
    assert overhead_samples(answers, reads) == [50, 30]
    assert overhead_samples([Answered(seq=10, e2e_ms=5)], reads) == []


# -- report ---------------------------------------------------------------------------


def test_report_has_a_column_per_run() -> None:
    tally = Tally(keys=90, accepts=2, typed_chars=95, accepted_chars=5, pauses=4, pauses_shown=1)
    tally.pause_latencies_ms.append(640.0)
    runs = [
        RunResult(
            label="before @ 9c18e7f",
            editor="vscode",
            model="m",
            tally=tally,
            counters=Counters(model_calls=46, prefilled_tokens=920, generated_tokens=69),
        ),
        RunResult(
            label="this checkout @ abc",
            editor="vscode",
            model="m",
            tally=Tally(),
            counters=Counters(),
        ),
    ]
    table = markdown(runs)
    header = "| measure | before @ 9c18e7f · vscode | this checkout @ abc · vscode |"
    assert table.startswith(header)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()}
    assert "| 1 of 4 (25%) | 0 of 0 |" in rows["pauses showing a suggestion"]
    assert "| 0.50 (46 calls) | n/a (0 calls) |" in rows["model calls per keystroke"]
    assert "| 20 | n/a |" in rows["tokens prefilled per call"]
    assert "| 1.5 | n/a |" in rows["tokens decoded per call"]
    assert "| 5 of 100 (5%) |" in rows["characters written by accepted suggestions"]
    assert "640 / 640 ms (n=1)" in rows["last key → suggestion shown, p50 / p90"]
    assert runs[0].to_json()["tally"]["keystrokes"] == 92


# -- the session's bookkeeping, against a scripted driver ------------------------------


class ScriptedDriver:
    """Records what the session sends; the test answers each request when it chooses."""

    timeout_s = 5.0

    def __init__(self) -> None:
        self.requests: dict[str, tuple[str, Any, Future[Any]]] = {}
        self.cancelled: list[str] = []
        self.changes: list[list[tuple[int, int, str, str]]] = []

    def set_text(self, uri: str, text: str) -> None:
        pass

    def insert(self, uri: str, edits: list[tuple[int, int, str, str]]) -> int:
        self.changes.append(list(edits))
        return len(self.changes) + 1

    def close(self, uri: str) -> None:
        pass

    def request(self, method: str, params: Any) -> tuple[str, Future[Any]]:
        msg_id = f"r{len(self.requests) + 1}"
        self.requests[msg_id] = (method, params, Future())
        return msg_id, self.requests[msg_id][2]

    def cancel(self, msg_id: str) -> None:
        self.cancelled.append(msg_id)

    def of(self, method: str) -> list[str]:
        return [i for i, (m, _, _) in self.requests.items() if m == method]

    def answer(self, msg_id: str, result: Any) -> None:
        self.requests[msg_id][2].set_result(result)


class NoCounters:
    def read(self, done: Any) -> None:
        done(Counters())


INLINE = types.TEXT_DOCUMENT_INLINE_COMPLETION
COMMAND = types.WORKSPACE_EXECUTE_COMMAND


def suggestion(text: str) -> types.InlineCompletionList:
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=text)])


async def typed_twice(editor: str) -> tuple[Session, ScriptedDriver]:
    driver = ScriptedDriver()
    session = Session(driver, editor, typing=Typing(), seed=0, probe=NoCounters())  # type: ignore[arg-type]
    session._uri, session._text, session._cursor = "file:///m.py", "x = \n", 4
    session.editor.edited(session._insert("a"))
    session.editor.edited(session._insert("d"))
    return session, driver


@pytest.mark.parametrize("fence_first", [True, False])
async def test_vscode_answer_for_old_text_is_stale_only_after_the_server_saw_the_change(
    fence_first: bool,
) -> None:
    session, driver = await typed_twice("vscode")
    first, second = driver.of(INLINE)
    assert driver.cancelled == [first]
    assert [len(change) for change in driver.changes] == [1, 1]
    (fence,) = driver.of(COMMAND)
    assert driver.requests[fence][1].command == "starcoder.status"
    if fence_first:
        driver.answer(fence, {"state": "ready"})
    driver.answer(first, suggestion("dd(a, b)"))
    assert (session.tally.stale, session.tally.overtaken) == ((1, 0) if fence_first else (0, 1))
    driver.answer(second, suggestion("d(a, b)"))
    assert session.tally.shown == 1 and session._shown is not None
    assert session._shown.ghost == "d(a, b)"
    assert (session.tally.requests, session.tally.cancelled, session.tally.with_items) == (2, 1, 2)


async def test_neovim_batches_changes_and_asks_once_typing_stops() -> None:
    session, driver = await typed_twice("neovim")
    assert driver.requests == {} and driver.changes == []
    await asyncio.sleep(0.3)
    assert driver.changes == [[(0, 4, "x = ", "a"), (0, 5, "x = a", "d")]]
    (request,) = driver.of(INLINE)
    assert driver.requests[request][1].position.character == 6
    session.editor.edited(session._insert("d"))  # typing on cancels nothing
    assert driver.cancelled == []
    driver.answer(request, suggestion("(a, b)"))
    assert (session.tally.overtaken, session.tally.shown) == (1, 0)
    session.editor.stop()


async def test_tab_inserts_runs_the_items_command_then_asks_again() -> None:
    session, driver = await typed_twice("vscode")
    first, second = driver.of(INLINE)
    accepted = types.Command(title="Accepted", command="starcoder.accepted", arguments=[1])
    item = types.InlineCompletionItem(insert_text="d(a, b)", command=accepted)
    driver.answer(second, types.InlineCompletionList(items=[item]))
    shown = session._shown
    assert shown is not None and shown.command == accepted
    session.editor.accepted(session._insert(shown.ghost), shown.command)
    *_, command, ask = driver.requests.values()
    assert (command[0], command[1].command, command[1].arguments) == (
        COMMAND,
        "starcoder.accepted",
        [1],
    )
    assert ask[0] == INLINE and ask[1].position.character == len("x = add(a, b)")
    assert driver.changes[-1] == [(0, 6, "x = ad", "d(a, b)")]
    assert session._text == "x = add(a, b)\n"


async def test_a_pause_without_a_suggestion_says_what_became_of_its_request() -> None:
    session, driver = await typed_twice("vscode")
    first, second = driver.of(INLINE)
    session._end_pause(last_key=session._loop.time())  # the answer is still to come
    driver.answer(second, types.InlineCompletionList(items=[]))
    session._end_pause(last_key=session._loop.time())  # answered empty
    session.editor.edited(session._insert("d"))
    last_key = session._loop.time() - 0.5
    driver.answer(driver.of(INLINE)[-1], suggestion("(a, b)"))
    session._end_pause(last_key=last_key)
    session._close_pauses()

    tally = session.tally
    assert (tally.pauses, tally.pauses_shown) == (3, 1)
    assert tally.pauses_missed == {"still computing": 1, "empty": 1}
    assert [pause.outcome for pause in tally.pause_log] == ["still computing", "empty", "shown"]
    late = tally.pause_log[0]
    assert late.answered_ms is not None and late.shown_ms is None, "answered after the pause"
    assert tally.pause_log[2].shown_ms is not None and tally.pause_log[2].shown_ms >= 500
    run = RunResult(label="x", editor="vscode", model="m", tally=tally, counters=Counters())
    missed = dict(rows(run))["pauses without one, by the answer for the text as typed"]
    assert missed == "empty 1, still computing 1"
    assert [p["outcome"] for p in run.to_json()["tally"]["pause_log"]][-1] == "shown"
