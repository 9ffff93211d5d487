"""A generation that survives typing, over LSP as VS Code drives it: a request at every
keystroke, the one before cancelled (`$/cancelRequest`), the change sent first.

The scripted engine writes its line a character a step (`token_ms`), as a slow model on a
CPU does, so the keystrokes come while it is still writing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import VSCODE, Session, end_session, start_session
from tests.support.scripted_server import write_script

URI = "file:///work/pkg/typed_on.py"
LINE = "a + b  # the sum of both"
ids = itertools.count(7100)


@pytest_asyncio.fixture(loop_scope="function")
async def vscode(tmp_path: Path) -> AsyncIterator[Session]:
    script_file = tmp_path / "script.json"
    write_script(script_file, [{"choices": [LINE], "token_ms": 60}])
    session = await start_session(
        VSCODE,
        tmp_path / "server.log",
        options={"debounceMs": 0, "maxNewTokens": 64},
        record_file=tmp_path / "calls.jsonl",
        script_file=script_file,
    )
    status = await session.wait_ready()
    assert status["state"] == "ready", json.dumps(status)
    yield session
    await end_session(session)


def ask(session: Session, character: int) -> tuple[int, asyncio.Future[Any]]:
    msg_id = next(ids)
    pending = asyncio.ensure_future(
        session.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            session.inline_params(URI, 1, character),
            msg_id=msg_id,
        )
    )
    return msg_id, pending


async def typing(session: Session, keys: str) -> Any:
    """Open, ask, then each key: the change, the request before cancelled, a new request;
    then the pause: the last request's answer."""
    session.open(URI, "def add(a, b):\n    return \n")
    column = len("    return ")
    msg_id, pending = ask(session, column)
    await session.wait_for_call(0)
    for version, key in enumerate(keys, start=2):
        await asyncio.sleep(0.05)
        session.replace(URI, version, (1, column), (1, column), key)
        session.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        try:  # answered empty (superseded by the change) or cancelled, whichever came first
            earlier = await asyncio.wait_for(pending, 10)
            assert earlier is None or not earlier.items
        except JsonRpcException as exc:
            assert "ancel" in str(exc)
        column += 1
        msg_id, pending = ask(session, column)
    return await asyncio.wait_for(pending, 30)


def shown(result: Any, line: str) -> list[str]:
    """The cursor line as each item would leave it."""
    lines = []
    for item in result.items:
        start, end = item.range.start.character, item.range.end.character
        lines.append(line[:start] + item.insert_text + line[end:])
    return lines


async def stats(session: Session) -> dict[str, Any]:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="starcoder.stats")
    )


async def test_typing_three_characters_of_it_shows_the_rest_from_one_call(
    vscode: Session,
) -> None:
    result = await typing(vscode, "a +")
    assert shown(result, "    return a +") == ["    return " + LINE]
    calls = vscode.calls()
    assert len(calls) == 1, "the engine was asked once for the four requests"
    assert calls[0]["cancelled"] is False
    counted = await stats(vscode)
    assert counted["adoptedGenerations"] == 1 and counted["abandonedGenerations"] == 0


async def test_off_each_key_asks_the_engine_again(vscode: Session) -> None:
    await vscode.configure({"keepTypedGeneration": False})
    await typing(vscode, "a +")
    calls = vscode.calls()
    assert len(calls) == 4 and all(call["cancelled"] for call in calls[:3])
    assert (await stats(vscode))["adoptedGenerations"] == 0
