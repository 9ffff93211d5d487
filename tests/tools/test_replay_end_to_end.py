"""`bench replay` end to end on a tiny scale: counts, never times.

The server is the real one behind a scripted engine (`tests/support/scripted_server.py`)
that answers, at each cursor position of the region, the rest of the line the user is
about to type; so the simulated user accepts suggestions, and every mechanism (requests,
cancels, fences, stats, Tab) runs as in a real replay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from starcoder_ls.tools.driver import Driver
from starcoder_ls.tools.replay.counters import Counters
from starcoder_ls.tools.replay.regions import Region, Source, Typing, make_region
from starcoder_ls.tools.replay.runner import stats_probe
from starcoder_ls.tools.replay.session import Session, Tally
from tests.support import scripted_server
from tests.support.scripted_server import write_script

CODE = """def add(a, b):
    return a + b


def main():
    total = add(1, 2)
    print(total)
"""
REGION = make_region(Source(path="m.py", text=CODE), 5, 2)
TYPING = Typing(keys_per_second=20, pause=(0.4, 0.5), pause_chance=1.0)
"""Pauses at every word boundary, long enough for the scripted answers to show."""


def echo_rules(region: Region) -> list[dict[str, Any]]:
    """At each offset of `typed`, the rest of its line (StarCoder's prompt puts the prefix
    just before `<fim_suffix>`)."""
    rules = []
    for i in range(len(region.typed)):
        rest = region.typed[i:].split("\n", 1)[0]
        prefix = region.before + region.typed[:i]
        if rest.strip():
            rules.append({"contains": prefix[-30:] + "<fim_suffix>", "choices": [rest]})
    return rules


async def replay(editor: str, tmp_path: Path) -> tuple[Tally, Counters]:
    script = tmp_path / "script.json"
    write_script(script, echo_rules(REGION), template="starcoder")
    log_file = tmp_path / f"{editor}.log"
    driver = Driver("replay-test", request_timeout_s=60)
    command = [sys.executable, scripted_server.__file__, "--script", str(script)]
    await driver.start(["--log-file", str(log_file)], {"debounceMs": 0}, command=command)
    try:
        assert (await driver.wait_ready(timeout_s=60))["state"] == "ready"
        probe = await stats_probe(driver, editor)
        session = Session(driver, editor, typing=TYPING, seed=0, probe=probe)
        start = await session.read_counters()
        tally = await session.run([REGION])
        end = await session.read_counters()
    finally:
        await driver.stop()
    return tally, end - start


@pytest.mark.parametrize("editor", ["vscode", "neovim"])
async def test_replay_counts(editor: str, tmp_path: Path) -> None:
    tally, counters = await replay(editor, tmp_path)
    assert tally.stale == 0 and tally.errors == 0 and tally.unanswered == 0, tally
    assert tally.typed_chars + tally.accepted_chars == len(REGION.typed)
    assert tally.accepts >= 1 and tally.accepted_chars >= 2
    assert tally.pauses >= 2 and tally.pause_latencies_ms
    assert len(tally.pause_latencies_ms) == tally.pauses_shown <= tally.pauses
    if editor == "vscode":
        assert tally.requests == tally.keystrokes
        assert tally.cancelled <= tally.requests - 1
    else:
        assert tally.pauses_shown <= tally.requests < tally.keystrokes
    assert 1 <= counters.requests <= tally.requests
    assert counters.model_calls >= 1  # a server may also call the model ahead of requests
    assert counters.prefilled_tokens > 0 and counters.generated_tokens > 0


@pytest.mark.slow
def test_cli_compares_two_server_trees(tmp_path: Path, tiny_starcoder_dir: Path) -> None:
    """`--server-tree` runs a checkout's server (here this one again) before this
    checkout's, with the same typing, into one table and one JSON report."""
    (tmp_path / "m.py").write_text(CODE)
    report = tmp_path / "replay.json"
    repository = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "starcoder_ls", "bench", "replay"]
    command += ["--model", str(tiny_starcoder_dir), "--path", str(tmp_path / "m.py")]
    command += ["--regions", "1", "--lines", "2", "--keys-per-second", "30"]
    command += ["--pause", "0.4-0.5"]  # longer than Neovim's 200 ms: each pause asks
    command += ["--editor", "neovim", "--server-tree", str(repository), "--json", str(report)]
    command += ["--settings", '{"maxNewTokens": 4, "debounceMs": 0}']
    command += ["--log-file", str(tmp_path / "replay.log")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(report.read_text())
    (region,) = results["regions"]
    runs = results["runs"]
    assert [run["label"].split(" @ ")[0] for run in runs] == [str(repository), "this checkout"]
    for run in runs:
        tally = run["tally"]
        assert tally["typed_chars"] + tally["accepted_chars"] == len(region["typed"]), run
        assert tally["stale"] == 0 and tally["unanswered"] == 0, run
        assert tally["requests"] >= tally["pauses"] >= 2, run
        assert run["counters"]["requests"] >= 1, run
    header = done.stdout.split("\n| measure | ")[1].splitlines()[0]
    assert header.count(" · neovim") == 2
