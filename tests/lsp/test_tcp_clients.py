"""`serve --tcp`: several editors on one server, each with its own documents, settings and
answers, on one shared model; a token keeps other local users out; and the log (at info)
holds neither document text nor setting values.

The server is the real `starcoder-ls serve --tcp 0` on the scripted engine of
`tests/support/scripted_server.py`, which records every prompt it is asked to complete.
Every client opens the same two URIs with text of its own, so a server that shared
documents between clients would put one client's text into another's prompt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from starcoder_ls.config import Settings
from starcoder_ls.lsp.tcp import HOST_FIELDS, shared_settings
from starcoder_ls.lsp.tcp_guard import TOKEN_OPTION
from tests.support.scripted_server import read_calls, write_script

ROOT = Path(__file__).parents[2]
TOKEN = "tcp-token-5b1e0c77d2"
API_KEY = "sk-live-3f9a7c1e88d24b6b"
"""A key-like string a user might paste into a setting; it must never reach the log."""
LAUNCHER = """
import sys
from pathlib import Path

from starcoder_ls.lsp import tcp
from starcoder_ls.cli import build_parser, settings_from_args, setup_logging
from tests.support.scripted_server import engine_factory

script, record, loads, *rest = sys.argv[1:]
args = build_parser().parse_args(["serve", *rest])
setup_logging(args.log_level, args.log_file)
scripted = engine_factory(Path(script), Path(record))


def factory(*load_args, **load_kwargs):
    with open(loads, "a") as out:  # one line per model load
        out.write("load\\n")
    return scripted(*load_args, **load_kwargs)


sys.exit(tcp.run(settings_from_args(args), args.host, args.tcp,
                 token_file=args.tcp_token_file, engine_factory=factory))
"""
"""The server on the scripted engine, its generate calls recorded, and each model load a
line in the loads file: what the tests observe, rather than the log's wording."""
LIB = "file:///proj/lib.py"
MAIN = "file:///proj/main.py"


def secret(editor: int) -> str:
    return f"SECRET_OF_EDITOR_{editor}"


def lib_text(editor: int) -> str:
    return f'def compute_total(items):\n    return "{secret(editor)}"\n'


def main_text(editor: int) -> str:
    return f"from lib import compute_total\n# editor {editor}\nresult = compute_tot"


def answer(editor: int) -> str:
    return f"al_{editor}(items)"


@dataclass
class TcpServer:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path
    script_file: Path
    record_file: Path
    loads_file: Path

    def log(self) -> str:
        return self.log_file.read_text()

    def script(self, *rules: dict[str, Any]) -> None:
        write_script(self.script_file, rules)

    def calls(self) -> list[dict[str, Any]]:
        return read_calls(self.record_file)

    def loads(self) -> int:
        """How many times the server has loaded a model."""
        return len(self.loads_file.read_text().splitlines()) if self.loads_file.exists() else 0


async def wait_for(predicate: Any, what: str, timeout_s: float = 60) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (value := predicate()):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TcpServer]:
    folder = tmp_path_factory.mktemp("tcp")
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    script_file, record_file, loads_file, log_file = (
        folder / "script.json",
        folder / "calls.jsonl",
        folder / "loads",
        folder / "log",
    )
    write_script(script_file, [])
    command = [sys.executable, "-c", LAUNCHER, str(script_file), str(record_file)]
    command += [str(loads_file)]
    command += ["--tcp", "0", "--tcp-token-file", str(token_file), "--log-file", str(log_file)]
    process = subprocess.Popen(command, cwd=ROOT)
    try:

        def port() -> int | None:
            found = re.search(r"serving LSP on 127\.0\.0\.1:(\d+)", log_file.read_text())
            assert process.poll() is None, log_file.read_text() if log_file.exists() else ""
            return int(found.group(1)) if found else None

        number = await wait_for(lambda: log_file.exists() and port(), "the server to listen")
        yield TcpServer(process, number, log_file, script_file, record_file, loads_file)
    finally:
        process.terminate()
        process.wait(timeout=30)


def new_client() -> LanguageClient:
    """A client that keeps the messages it is shown (`messages`) and the statuses sent."""
    client = make_test_lsp_client()
    client.statuses = []  # type: ignore[attr-defined]
    client.feature("starcoder/status")(lambda ls, params: ls.statuses.append(params))
    return client


async def connect(server: TcpServer, **options: Any) -> LanguageClient:
    client = new_client()
    await client.start_tcp("127.0.0.1", server.port)
    caps = client_capabilities("visual-studio-code")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    caps.window.work_done_progress = False  # this client answers no progress requests
    await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            initialization_options={TOKEN_OPTION: TOKEN, "debounceMs": 0, **options},
        )
    )
    return client


async def status(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="starcoder.status")
    )


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


async def open_editor(server: TcpServer, editor: int, **options: Any) -> LanguageClient:
    client = await connect(server, **options)
    open_document(client, LIB, lib_text(editor))
    open_document(client, MAIN, main_text(editor))
    await wait_for_state(client, "ready")
    return client


async def wait_for_state(client: LanguageClient, state: str) -> dict[str, Any]:
    """The status once it is `state` (a notification is handled after the next request)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (found := await status(client))["state"] != state:
        assert loop.time() < deadline, found
        await asyncio.sleep(0.05)
    return found


async def complete(client: LanguageClient) -> list[str]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=MAIN),
            position=types.Position(line=2, character=len("result = compute_tot")),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    return [str(item.insert_text) for item in items]


async def leave(client: LanguageClient) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def rules(delay_ms: int = 300) -> list[dict[str, Any]]:
    """Editor N's prompt (and only its prompt) holds its secret: answer `answer(N)`."""
    return [
        {"contains": secret(n), "choices": [answer(n)], "delay_ms": delay_ms} for n in (1, 2, 3)
    ]


@pytest.mark.asyncio(loop_scope="module")
async def test_three_clients_see_only_their_own_documents(server: TcpServer) -> None:
    server.script(*rules())
    before = len(server.calls())
    clients = [await open_editor(server, n) for n in (1, 2, 3)]
    try:
        answers = await asyncio.gather(*(complete(client) for client in clients))
        for editor, texts in zip((1, 2, 3), answers, strict=True):
            assert texts, f"editor {editor} got no answer"
            assert all(answer(editor) in text for text in texts), (editor, texts)
        prompts = [call["prompt"] for call in server.calls()[before:]]
        for editor in (1, 2, 3):
            own = [p for p in prompts if f"# editor {editor}" in p]
            assert own, f"no prompt of editor {editor}"
            others = [secret(n) for n in (1, 2, 3) if n != editor]
            for prompt in own:
                assert secret(editor) in prompt, "its own lib.py is its cross-file context"
                assert not any(other in prompt for other in others), prompt
        finished = re.findall(r"request (\d+): single-line", server.log())
        assert len(finished) >= 3 and len(set(finished)) == len(finished), "one id, one request"
    finally:
        for client in clients:
            await leave(client)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_client_that_leaves_takes_only_its_own_state(server: TcpServer) -> None:
    one, two, three = [await open_editor(server, n) for n in (1, 2, 3)]
    # Editor 2's request keeps the model busy until its connection drops: leaving must
    # cancel it, or the others would wait a minute for the one model.
    server.script({"contains": "# editor 2", "choices": ["slow"], "delay_ms": 60_000}, *rules(50))
    pending = asyncio.ensure_future(complete(two))
    before = len(server.calls())
    await wait_for(lambda: len(server.calls()) > before, "editor 2's request to reach the model")
    two.protocol.writer.close()  # the editor crashes: no shutdown, no exit
    await wait_for(
        lambda: server.calls()[before].get("cancelled") is True,
        "the server to cancel editor 2's request as its connection went",
    )
    pending.cancel()
    await two.stop()
    try:
        assert server.process.poll() is None, "the server keeps running"
        assert [answer(1) in text for text in await complete(one)] == [True]
        assert [answer(3) in text for text in await complete(three)] == [True]
        four = await open_editor(server, 4)
        server.script({"contains": "# editor 4", "choices": ["al_4(items)"]})
        assert ["al_4(items)" in text for text in await complete(four)] == [True]
        await leave(four)
    finally:
        await leave(one)
        await leave(three)


@pytest.mark.asyncio(loop_scope="module")
async def test_settings_are_per_client_and_the_model_is_the_servers(server: TcpServer) -> None:
    server.script(*rules(delay_ms=0))
    one, three = await open_editor(server, 1), await open_editor(server, 3)
    try:
        one.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"starcoder": {"enabled": False, "model": "bigcode/starcoder"}}
            )
        )
        await wait_for_state(one, "disabled")
        warnings = [m.message for m in one.messages if m.type == types.MessageType.Warning]
        assert any("model" in m and "shared" in m for m in warnings), one.messages
        assert await complete(one) == []
        mine = await status(three)
        assert (mine["state"], mine["model"]) == ("ready", "scripted")
        assert [answer(3) in text for text in await complete(three)] == [True]
        assert not [m for m in three.messages if m.type == types.MessageType.Warning]
        assert server.loads() == 1, "the model was never loaded again"
    finally:
        await leave(one)
        await leave(three)


async def raw_initialize(port: int, options: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
    """The answer to an `initialize` sent on a bare socket, and what follows it until the
    server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    params: dict[str, Any] = {"processId": None, "rootUri": None, "capabilities": {}}
    if options is not None:
        params["initializationOptions"] = options
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    writer.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
    await writer.drain()
    header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = int(re.search(rb"Content-Length: (\d+)", header).group(1))  # type: ignore[union-attr]
    message = json.loads(await reader.readexactly(length))
    rest = await asyncio.wait_for(reader.read(), 30)  # b"" once the server has closed
    writer.close()
    return message, rest


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    "options",
    [
        None,
        {"debounceMs": 0},
        {TOKEN_OPTION: "guess"},
        {"starcoder": {TOKEN_OPTION: 7}},
        {TOKEN_OPTION: "\ud800"},  # a lone surrogate made the comparison raise (issue 18)
    ],
)
async def test_without_the_token_initialize_fails_and_the_connection_closes(
    server: TcpServer, options: dict[str, Any] | None
) -> None:
    message, rest = await raw_initialize(server.port, options)
    assert "result" not in message
    assert message["error"]["code"] == -32602
    assert TOKEN_OPTION in message["error"]["message"]
    assert rest == b""


@pytest.mark.asyncio(loop_scope="module")
async def test_the_token_may_sit_in_the_starcoder_section(server: TcpServer) -> None:
    client = new_client()
    await client.start_tcp("127.0.0.1", server.port)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"starcoder": {TOKEN_OPTION: TOKEN, "debounceMs": 0}},
        )
    )
    try:
        await wait_for_state(client, "ready")
        assert not client.messages, "the token is no setting: no unknown-setting error"
    finally:
        await leave(client)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_log_holds_no_document_text_no_setting_value_and_no_token(
    server: TcpServer,
) -> None:
    server.script(*rules(delay_ms=0))
    client = await open_editor(server, 5, remoteModel=API_KEY)
    try:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"starcoder": {"apiKeyEnv": API_KEY, "endpoint": f"http://{API_KEY}"}}
            )
        )
        await wait_for(
            lambda: API_KEY in " ".join(m.message for m in client.messages),
            "the user to be shown the value they typed",
        )
        await complete(client)
    finally:
        await leave(client)
    log = server.log()
    assert "request" in log and "apiKeyEnv" in log, "the session was logged at info"
    for private in (API_KEY, TOKEN, "SECRET_OF_EDITOR", "compute_tot", "# editor"):
        assert private not in log, f"{private!r} is in the log"


def test_host_fields_are_every_setting_that_chooses_the_model() -> None:
    """A field left out would let one client's value reach the shared model's key."""
    host = Settings()
    for backend in ("local", "openai"):
        base = dataclasses.replace(host, backend=backend)
        for field in dataclasses.fields(Settings):
            value = getattr(base, field.name)
            if isinstance(value, bool):
                changed: Any = not value
            elif isinstance(value, (int, float)):
                changed = value + 1
            elif isinstance(value, tuple):
                changed = (*value, "x")
            else:
                changed = f"{value or ''}x"
            other = dataclasses.replace(base, **{field.name: changed})
            if other.model_key != base.model_key:
                assert field.name in HOST_FIELDS, field.name


@pytest.mark.parametrize(("asked", "debounce"), [(None, 150), (0, 0), (40, 40)])
def test_editors_sharing_the_model_wait_as_for_a_remote_engine_unless_they_say(
    asked: int | None, debounce: int
) -> None:
    host = Settings(model="/models/sc", dtype="bfloat16")
    mine = shared_settings(Settings(model="/other", debounce_ms=asked, max_new_tokens=9), host)
    assert (mine.model, mine.dtype, mine.max_new_tokens) == ("/models/sc", "bfloat16", 9)
    assert mine.debounce == debounce
    assert Settings(debounce_ms=asked).debounce == (asked or 0), "alone, auto is no wait"
