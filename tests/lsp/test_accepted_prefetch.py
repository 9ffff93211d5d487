"""Prefetch over the protocol: the accepted command, sent before or after the editor's
didChange, has the server compute the next completion, and the editor's request after
Tab is answered without an engine call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIRST = {"contains": "return <fim_suffix>", "choices": ["a + b"]}
NEXT = {"contains": "return a + b<fim_suffix>", "choices": ["  # the sum"]}


async def stats(session: Session) -> dict[str, Any]:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="starcoder.stats")
    )


async def wait_for_model_calls(session: Session, count: int, timeout_s: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (await stats(session))["modelCalls"] < count:
        assert loop.time() < deadline, "the prefetch never reached the engine"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("order", ["change-then-command", "command-then-change"])
async def test_the_request_after_tab_is_answered_by_the_prefetch(
    scripted: Session, order: str
) -> None:
    uri = f"file:///work/pkg/prefetch_{order.replace('-', '_')}.py"
    scripted.script(FIRST, NEXT)
    scripted.open(uri, "def add(a, b):\n    return \n\nprint(add(1, 2))\n")
    (item,) = (await scripted.inline(uri, 1, 11)).items
    assert item.insert_text == "a + b"
    assert item.command is not None
    (arguments,) = item.command.arguments or []
    assert arguments == {
        "uri": uri,
        "index": 0,
        "version": 1,
        "line": 1,
        "character": len("    return a + b"),
    }
    before = await stats(scripted)
    calls = len(scripted.calls())

    def insert() -> None:
        start, end = item.range.start, item.range.end
        text = str(item.insert_text)
        scripted.replace(uri, 2, (start.line, start.character), (end.line, end.character), text)

    accept = types.ExecuteCommandParams(command=item.command.command, arguments=[arguments])
    if order == "change-then-command":
        insert()
        assert await scripted.client.workspace_execute_command_async(accept) is None
    else:
        assert await scripted.client.workspace_execute_command_async(accept) is None
        insert()
    await wait_for_model_calls(scripted, before["modelCalls"] + 1)

    result = await scripted.inline(uri, arguments["line"], arguments["character"])
    assert [i.insert_text for i in result.items] == ["  # the sum"]
    assert len(scripted.calls(calls)) == 1, "only the prefetch reached the engine"
    (prefetch,) = scripted.calls(calls)
    assert "return a + b<fim_suffix>" in prefetch["prompt"]
    after = await stats(scripted)
    assert after["prefetches"] == before["prefetches"] + 1
    assert after["prefetchHits"] == before["prefetchHits"] + 1
    assert after["accepted"] == before["accepted"] + 1
