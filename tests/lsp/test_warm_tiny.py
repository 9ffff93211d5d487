"""Warm before the first key on a real model (tiny StarCoder, the local engine's KV reuse):
after `starcoder/didFocus`, the request at that cursor prefills a token or two, not its
whole prompt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40)) + "y = \n"
LINE, CHARACTER = 120, 4


async def stats(session: Session) -> dict[str, Any]:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="starcoder.stats")
    )


async def prefilled_by_request(session: Session, uri: str) -> tuple[int, int]:
    """(prompt tokens, prefilled tokens) of the request at the cursor."""
    before = await stats(session)
    await session.inline(uri, LINE, CHARACTER)
    after = await stats(session)
    assert after["modelCalls"] == before["modelCalls"] + 1
    return (
        after["promptTokens"] - before["promptTokens"],
        after["prefilledTokens"] - before["prefilledTokens"],
    )


async def test_the_request_after_a_focus_resumes_from_the_warmed_prompt(tiny: Session) -> None:
    cold_uri, warm_uri = "file:///work/pkg/cold.py", "file:///work/pkg/warm.py"
    tiny.open(cold_uri, TEXT.replace("f", "g"))
    prompt_tokens, cold = await prefilled_by_request(tiny, cold_uri)
    assert cold == prompt_tokens > 200

    tiny.open(warm_uri, TEXT)
    before = await stats(tiny)
    tiny.client.protocol.notify(
        "starcoder/didFocus",
        {"textDocument": {"uri": warm_uri}, "position": {"line": LINE, "character": CHARACTER}},
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await stats(tiny))["warmupsCompleted"] == before["warmupsCompleted"]:
        assert loop.time() < deadline, "the warm-up never ended"
        await asyncio.sleep(0.05)
    prompt_tokens, warm = await prefilled_by_request(tiny, warm_uri)
    assert prompt_tokens > 200 and warm <= 2
