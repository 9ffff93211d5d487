"""Engine faults through the real server (scripted engine, `raise` rules): the request
gets a JSON-RPC error that says what happened, the status turns "error" with the same
message, and the next request is answered again. The service-level cases, a dead worker
thread and load failures included, are in tests/unit/test_faults.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import VSCODE, Session, end_session, start_session
from tests.support.scripted_server import FAULTS, write_script


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    folder = tmp_path_factory.mktemp("faults")
    script_file = folder / "script.json"
    write_script(script_file, [])
    session = await start_session(
        VSCODE,
        folder / "server.log",
        options={"debounceMs": 0, "maxNewTokens": 16},
        script_file=script_file,
    )
    status = await session.wait_ready()
    assert status["state"] == "ready", json.dumps(status)
    yield session
    await end_session(session)


async def ask(session: Session, uri: str) -> list[str]:
    answer = await asyncio.wait_for(session.inline(uri, 1, 11, invoked=True), 60)
    return [item.insert_text for item in answer.items]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        ("oom", "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
        ("engine", FAULTS["engine"][1]),
        ("crash", "ValueError: shape mismatch in layer 3"),
    ],
)
async def test_a_fault_is_an_error_answer_then_the_server_recovers(
    session: Session, fault: str, shown: str
) -> None:
    uri = f"file:///work/{fault}.py"  # a prompt of its own: no answer cached for it
    session.open(uri, f"def add_{fault}(a, b):\n    return \n")
    session.script({"raise": fault})
    with pytest.raises(JsonRpcException) as raised:
        await ask(session, uri)
    assert shown in str(raised.value)
    status = await session.status()
    assert (status["state"], status["message"]) == ("error", shown)
    assert status["model"] == "scripted"

    session.script({"choices": [f"a + b  # after {fault}"]})
    assert await ask(session, uri) == [f"a + b  # after {fault}"]
    assert (await session.status())["state"] == "ready"
