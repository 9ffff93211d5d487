"""Warm before the first key, over the protocol: `starcoder/didFocus` has the server run the
prompt at the cursor through the engine for one token, the very prompt the request there
then sends; a request cancels it; excluded documents and `warmOnFocus: false` warm nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.conftest import Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"
LINE, CHARACTER = 1, len("    return ")


async def stats(session: Session) -> dict[str, Any]:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="starcoder.stats")
    )


def focus(session: Session, uri: str, line: int = LINE, character: int = CHARACTER) -> None:
    session.client.protocol.notify(
        "starcoder/didFocus",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    )


async def ended(session: Session, since: int, timeout_s: float = 30) -> dict[str, Any]:
    """The first call after `since`, once the engine has answered it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (calls := session.calls(since)) or "choices" not in calls[0]:
        assert loop.time() < deadline, "the call never ended"
        await asyncio.sleep(0.02)
    return calls[0]


async def test_focus_warms_the_prompt_the_request_there_sends(scripted: Session) -> None:
    uri = "file:///work/pkg/warm_focus.py"
    scripted.script({"contains": "return <fim_suffix>", "choices": ["a + b"]})
    scripted.open(uri, TEXT)
    before, calls = await stats(scripted), len(scripted.calls())
    focus(scripted, uri)
    warm = await ended(scripted, calls)
    assert warm["params"]["max_new_tokens"] == 1
    assert warm["cancelled"] is False
    assert "return <fim_suffix>" in warm["prompt"]
    focus(scripted, uri)  # the same cursor, nothing ran since: already warm
    assert (await stats(scripted))["warmups"] == before["warmups"] + 1

    (item,) = (await scripted.inline(uri, LINE, CHARACTER)).items
    assert item.insert_text == "a + b"
    warm_call, request = scripted.calls(calls)
    assert request["prompt"] == warm["prompt"]
    assert request["params"]["max_new_tokens"] == 16
    after = await stats(scripted)
    assert after["warmups"] == before["warmups"] + 1
    assert after["warmupsCompleted"] == before["warmupsCompleted"] + 1

    focus(scripted, uri)  # the request's call may have pushed the warm prompt out: again
    assert (await stats(scripted))["warmups"] == after["warmups"] + 1
    await ended(scripted, calls + 2)


async def test_a_request_cancels_the_warm_up(scripted: Session) -> None:
    uri = "file:///work/pkg/warm_cancelled.py"
    scripted.script({"contains": "return <fim_suffix>", "choices": ["a + b"], "delay_ms": 20_000})
    scripted.open(uri, TEXT)
    before, calls = await stats(scripted), len(scripted.calls())
    focus(scripted, uri)
    warm = await scripted.wait_for_call(calls)
    assert warm["params"]["max_new_tokens"] == 1
    scripted.script({"contains": "return <fim_suffix>", "choices": ["a + b"]})

    result = await asyncio.wait_for(scripted.inline(uri, LINE, CHARACTER), 10)
    assert [i.insert_text for i in result.items] == ["a + b"]
    warm_call, request = scripted.calls(calls)
    assert warm_call["cancelled"] is True
    assert request["params"]["max_new_tokens"] == 16
    after = await stats(scripted)
    assert after["warmups"] == before["warmups"] + 1
    assert after["warmupsCompleted"] == before["warmupsCompleted"]


async def no_warm_up(session: Session, uri: str) -> None:
    before, calls = await stats(session), len(session.calls())
    focus(session, uri)
    assert (await stats(session))["warmups"] == before["warmups"]
    await asyncio.sleep(0.2)
    assert session.calls(calls) == []


async def test_an_excluded_document_is_not_warmed(scripted: Session) -> None:
    uri = "file:///work/pkg/.env"
    scripted.script({"choices": ["x"]})
    scripted.open(uri, "TOKEN=\n", language_id="plaintext")
    await no_warm_up(scripted, uri)


async def test_no_warm_up_when_the_setting_is_off(scripted: Session) -> None:
    uri = "file:///work/pkg/warm_off.py"
    scripted.script({"choices": ["x"]})
    scripted.open(uri, TEXT)
    await scripted.configure({"warmOnFocus": False})
    try:
        await no_warm_up(scripted, uri)
    finally:
        await scripted.configure({"warmOnFocus": True})
