"""The server on a real StarCoder-family model (tiny, random weights): the FIM template
comes from its tokenizer, the prompt reaches it with the FIM sentinels, and it generates.

Random weights say nothing about what the suggestions should be, so these tests check
the mechanism through the engine's record of each call; `test_protocol.py` checks the
items on a scripted engine.
"""

from __future__ import annotations

import pytest

from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

STOP_REASONS = {"eos", "stop", "length"}


async def test_status_names_the_model_and_fim_template(tiny: Session) -> None:
    status = await tiny.status()
    assert status["state"] == "ready"
    assert status["template"] == "starcoder"  # detected from the tokenizer's special tokens
    assert status["device"] == "cpu"


async def test_model_receives_the_exact_fim_prompt_and_generates(tiny: Session) -> None:
    uri = "file:///work/pkg/mod.py"
    tiny.open(uri, "def f(x):\n    return x\n\nprint(f(2))\n")
    since = len(tiny.calls())
    await tiny.inline(uri, 1, 11)
    (call,) = tiny.calls(since)
    assert call["prompt"] == (
        "<filename>mod.py\n<fim_prefix>def f(x):\n    return <fim_suffix>x\n\nprint(f(2))\n"
        "<fim_middle>"
    )
    assert call["params"]["max_new_tokens"] == 8
    assert call["cancelled"] is False
    (choice,) = call["choices"]
    assert 1 <= choice["tokens"] <= 8
    assert choice["stop_reason"] in STOP_REASONS


async def test_invoked_request_samples_the_alternatives(tiny: Session) -> None:
    uri = "file:///work/pkg/choices.py"
    tiny.open(uri, "def m():\n    return \n")
    await tiny.configure({"maxSuggestions": 3})
    since = len(tiny.calls())
    await tiny.inline(uri, 1, 11, invoked=True)
    greedy, sampled = tiny.calls(since)
    assert greedy["params"]["temperature"] == 0 and len(greedy["choices"]) == 1
    assert sampled["params"]["temperature"] > 0
    assert sampled["params"]["n"] == 2 and len(sampled["choices"]) == 2
    for choice in greedy["choices"] + sampled["choices"]:
        assert choice["tokens"] >= 1 and choice["stop_reason"] in STOP_REASONS
