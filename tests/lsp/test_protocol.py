"""The protocol on a scripted engine: prompts, encodings, settings, races, bad input.

Each test chooses what the engine answers (`Session.script`), so an empty result means
the server withheld an answer, and a full one must carry exactly the expected text.
"""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import EMACS, NEOVIM, VSCODE, Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANY_PROMPT = {"choices": ["answer_from_the_script"]}
"""A rule that answers every prompt: what a test sees is then the server's doing."""


def texts(result: types.InlineCompletionList) -> list[str]:
    return [item.insert_text for item in result.items]


def at(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def test_capabilities_follow_the_client(scripted: Session) -> None:
    caps = scripted.capabilities
    assert caps.inline_completion_provider is not None
    if scripted.profile == VSCODE:
        assert caps.completion_provider is None
        assert caps.position_encoding in (None, "utf-16")
    else:
        assert caps.completion_provider is not None
        # each client's first choice: Neovim lists utf-8 first, eglot utf-32
        assert caps.position_encoding == {NEOVIM: "utf-8", EMACS: "utf-32"}[scripted.profile]
    sync = caps.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_status_names_the_engine_and_template(scripted: Session) -> None:
    status = await scripted.status()
    assert status["state"] == "ready"
    assert status["model"] == "scripted"
    assert status["template"] == "starcoder"


async def test_answer_reaches_the_editor_at_the_cursor(scripted: Session) -> None:
    uri = "file:///work/pkg/mod.py"
    scripted.script({"contains": "<filename>mod.py", "choices": ["x * 2"]})
    scripted.open(uri, "def f(x):\n    return \n\nprint(f(2))\n")
    since = len(scripted.calls())
    result = await scripted.inline(uri, 1, 11)
    assert texts(result) == ["x * 2"]
    item = result.items[0]
    assert item.range == types.Range(start=at(1, 11), end=at(1, 11))
    assert item.command is not None and item.command.command == "starcoder.accepted"
    (call,) = scripted.calls(since)
    assert call["prompt"] == (
        "<filename>mod.py\n<fim_prefix>def f(x):\n    return <fim_suffix>\n\nprint(f(2))\n"
        "<fim_middle>"
    )
    assert call["params"]["stop"] == ["\n"]  # mid-line: one line


@pytest.mark.parametrize(
    ("before", "name"),
    [("😀", "emoji"), ("漢字", "cjk"), ("é", "precomposed"), ("e\u0301", "combining")],
)
async def test_multibyte_text_before_the_cursor(scripted: Session, before: str, name: str) -> None:
    uri = f"file:///work/pkg/{name}.py"
    line = f'label = "{before}" + '
    scripted.script({"contains": f"<filename>{name}.py", "choices": ["suffix"]})
    scripted.open(uri, f"{line}\n")
    units = {
        "utf-8": len(line.encode()),
        "utf-16": len(line.encode("utf-16-le")) // 2,
        "utf-32": len(line),
    }
    character = units[scripted.encoding]
    since = len(scripted.calls())
    result = await scripted.inline(uri, 0, character)
    assert (
        f"<filename>{name}.py\n<fim_prefix>{line}<fim_suffix>" in scripted.calls(since)[0]["prompt"]
    )
    assert texts(result) == ["suffix"]
    assert result.items[0].range == types.Range(start=at(0, character), end=at(0, character))


async def test_incremental_edits_are_tracked(scripted: Session) -> None:
    uri = "file:///work/pkg/edit.py"
    # answers only a prompt that has seen the edit
    scripted.script({"contains": "x = 1\ny = x + <fim_suffix>", "choices": ["2"]})
    scripted.open(uri, "x = 1\ny = \n")
    scripted.replace(uri, 2, (1, 4), (1, 4), "x + ")
    assert texts(await scripted.inline(uri, 1, 8)) == ["2"]


async def test_unknown_document_is_a_clear_error_and_the_server_goes_on(
    scripted: Session,
) -> None:
    scripted.script(ANY_PROMPT)
    with pytest.raises(JsonRpcException, match="unknown document"):
        await scripted.inline("file:///never/opened.py", 0, 0)
    uri = "file:///work/pkg/after_error.py"
    scripted.open(uri, "value = \n")
    assert texts(await scripted.inline(uri, 0, 8)) == ["answer_from_the_script"]


async def test_position_past_the_end(scripted: Session) -> None:
    uri = "file:///work/pkg/short.py"
    scripted.script({"contains": "a = 1<fim_suffix>", "choices": [" + 1"]})
    scripted.open(uri, "a = 1\n")
    with pytest.raises(JsonRpcException, match="past the end"):
        await scripted.inline(uri, 40, 0)
    # a character past the line end is clamped to it (the LSP rule)
    result = await scripted.inline(uri, 0, 500)
    assert texts(result) == [" + 1"]
    assert result.items[0].range.start == at(0, 5)


async def test_two_megabyte_document(scripted: Session) -> None:
    uri = "file:///work/pkg/huge.py"
    body = "".join(f"value_{i} = {i} * 2  # padding padding padding\n" for i in range(45_000))
    assert len(body) > 2_000_000
    scripted.script({"contains": "total = <fim_suffix>", "choices": ["value_0"]})
    scripted.open(uri, body + "total = \n")
    since = len(scripted.calls())
    result = await scripted.inline(uri, 45_000, 8)
    assert texts(result) == ["value_0"]
    (call,) = scripted.calls(since)
    assert "value_44999 = 44999 * 2" in call["prompt"]  # the near end is kept
    assert len(call["prompt"].split()) < 2048  # fitted into the window, not the whole file


async def test_binary_looking_text_gets_an_empty_result(scripted: Session) -> None:
    uri = "file:///work/pkg/blob.bin"
    scripted.script(ANY_PROMPT)
    scripted.open(uri, "\x00\x01\x02ELF\x00\x00" * 100, language_id="plaintext")
    since = len(scripted.calls())
    assert not (await scripted.inline(uri, 0, 3)).items
    assert scripted.calls(since) == []  # withheld before asking the model


async def test_invalid_setting_is_reported_and_the_old_value_kept(scripted: Session) -> None:
    scripted.script(ANY_PROMPT)
    await scripted.configure({"maxNewTokens": -5, "debounceMs": 0})
    # The configuration handler is asynchronous: the status round trip can overtake its
    # message, so wait (bounded) for the message itself.
    for _ in range(200):
        errors = [m for m in scripted.client.messages if m.type == types.MessageType.Error]
        if errors:
            break
        await asyncio.sleep(0.05)
    assert errors and "maxNewTokens" in errors[-1].message
    uri = "file:///work/pkg/settings.py"
    scripted.open(uri, "answer = \n")
    since = len(scripted.calls())
    assert texts(await scripted.inline(uri, 0, 9)) == ["answer_from_the_script"]
    assert scripted.calls(since)[0]["params"]["max_new_tokens"] == 16


async def test_disabled_language_and_disabled_server(scripted: Session) -> None:
    uri = "file:///work/pkg/notes.md"
    scripted.script(ANY_PROMPT)
    scripted.open(uri, "# Notes\n\nSome \n", language_id="markdown")
    since = len(scripted.calls())
    await scripted.configure({"languages": ["*", "!markdown"]})
    assert not (await scripted.inline(uri, 2, 5)).items
    await scripted.configure({"languages": ["*"], "enabled": False})
    assert (await scripted.status())["state"] == "disabled"
    assert not (await scripted.inline(uri, 2, 5)).items
    assert scripted.calls(since) == []
    await scripted.configure({"enabled": True})
    assert (await scripted.status())["state"] == "ready"
    assert texts(await scripted.inline(uri, 2, 5)) == ["answer_from_the_script"]


async def test_newer_request_supersedes_the_older(scripted: Session) -> None:
    uri = "file:///work/pkg/race.py"
    scripted.script({"contains": "<filename>race.py", "choices": ["1"]})
    scripted.open(uri, "def g():\n    return \n")
    since = len(scripted.calls())
    await scripted.configure({"debounceMs": 300})
    try:
        first = scripted.start_inline(uri, 1, 11)
        await asyncio.sleep(0.05)
        second = scripted.start_inline(uri, 1, 11)
        first_result, second_result = await asyncio.gather(first, second)
    finally:
        await scripted.configure({"debounceMs": 0})
    assert not first_result.items
    assert texts(second_result) == ["1"]
    assert len(scripted.calls(since)) == 1  # the older one never reached the model


async def test_edit_while_debouncing_discards_the_request(scripted: Session) -> None:
    uri = "file:///work/pkg/stale.py"
    scripted.script({"contains": "<filename>stale.py", "choices": ["2"]})
    scripted.open(uri, "def h():\n    return \n")
    since = len(scripted.calls())
    await scripted.configure({"debounceMs": 300})
    try:
        pending = scripted.start_inline(uri, 1, 11)
        await asyncio.sleep(0.05)
        scripted.replace(uri, 2, (1, 11), (1, 11), "1")
        result = await pending
    finally:
        await scripted.configure({"debounceMs": 0})
    assert not result.items
    assert scripted.calls(since) == []


async def test_edit_while_generating_cancels_the_generation(scripted: Session) -> None:
    uri = "file:///work/pkg/slow.py"
    scripted.script({"contains": "<filename>slow.py", "choices": ["3"], "delay_ms": 20_000})
    scripted.open(uri, "def s():\n    return \n")
    since = len(scripted.calls())
    pending = scripted.start_inline(uri, 1, 11)
    await scripted.wait_for_call(since)
    scripted.replace(uri, 2, (1, 11), (1, 11), "1")
    result = await asyncio.wait_for(pending, 10)  # long before the 20 s answer
    assert not result.items
    assert scripted.calls(since)[0]["cancelled"] is True


async def test_cancel_request_is_honoured(scripted: Session) -> None:
    uri = "file:///work/pkg/cancel.py"
    scripted.script({"contains": "<filename>cancel.py", "choices": ["4"]})
    scripted.open(uri, "def k():\n    return \n")
    since = len(scripted.calls())
    await scripted.configure({"debounceMs": 500})
    try:
        pending = asyncio.ensure_future(
            scripted.client.protocol.send_request_async(
                types.TEXT_DOCUMENT_INLINE_COMPLETION,
                scripted.inline_params(uri, 1, 11),
                msg_id=4242,
            )
        )
        await asyncio.sleep(0.2)  # well inside the debounce
        scripted.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=4242))
        with pytest.raises(JsonRpcException, match="[Cc]ancel"):
            await asyncio.wait_for(pending, 10)
    finally:
        await scripted.configure({"debounceMs": 0})
    assert scripted.calls(since) == []
    assert texts(await scripted.inline(uri, 1, 11)) == ["4"]


async def test_cancel_request_stops_a_running_generation(scripted: Session) -> None:
    uri = "file:///work/pkg/cancel_slow.py"
    scripted.script({"contains": "<filename>cancel_slow.py", "choices": ["5"], "delay_ms": 20_000})
    scripted.open(uri, "def c():\n    return \n")
    since = len(scripted.calls())
    pending = asyncio.ensure_future(
        scripted.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, scripted.inline_params(uri, 1, 11), msg_id=4343
        )
    )
    await scripted.wait_for_call(since)
    scripted.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=4343))
    with pytest.raises(JsonRpcException, match="[Cc]ancel"):
        await asyncio.wait_for(pending, 10)
    for _ in range(500):  # the engine thread notices the flag on its own time
        if "cancelled" in scripted.calls(since)[0]:
            break
        await asyncio.sleep(0.02)
    assert scripted.calls(since)[0]["cancelled"] is True
    # the worker is free again: the next request is answered
    scripted.script({"contains": "<filename>cancel_slow.py", "choices": ["6"]})
    assert texts(await scripted.inline(uri, 1, 11)) == ["6"]


async def test_invoked_request_asks_for_several_choices(scripted: Session) -> None:
    uri = "file:///work/pkg/choices.py"
    scripted.script({"contains": "<filename>choices.py", "choices": ["a", "b", "c", "d"]})
    scripted.open(uri, "def m():\n    return \n")
    await scripted.configure({"maxSuggestions": 3})
    since = len(scripted.calls())
    result = await scripted.inline(uri, 1, 11, invoked=True)
    assert texts(result) == ["a", "b", "c"]  # the greedy answer first, then 2 samples
    greedy, sampled = scripted.calls(since)
    assert (greedy["params"]["n"], greedy["params"]["temperature"]) == (1, 0)
    assert sampled["params"]["n"] == 2 and sampled["params"]["temperature"] > 0


async def test_automatic_request_asks_for_one_choice(scripted: Session) -> None:
    uri = "file:///work/pkg/one_choice.py"
    scripted.script({"contains": "<filename>one_choice.py", "choices": ["a", "b", "c", "d"]})
    scripted.open(uri, "def m():\n    return \n")
    await scripted.configure({"maxSuggestions": 3})
    since = len(scripted.calls())
    assert texts(await scripted.inline(uri, 1, 11)) == ["a"]
    (call,) = scripted.calls(since)
    assert (call["params"]["n"], call["params"]["temperature"]) == (1, 0)


async def test_selected_completion_item_is_extended(scripted: Session) -> None:
    uri = "file:///work/pkg/selected.py"
    scripted.script({"contains": "import os\nos.path<fim_suffix>", "choices": [".join(a, b)"]})
    scripted.open(uri, "import os\nos.pa\n")
    selected = types.SelectedCompletionInfo(
        range=types.Range(start=at(1, 3), end=at(1, 5)), text="path"
    )
    result = await scripted.inline(uri, 1, 5, selected=selected)
    assert texts(result) == ["path.join(a, b)"]
    assert result.items[0].range == types.Range(start=at(1, 3), end=at(1, 5))


async def test_auto_closed_parenthesis_is_replaced_not_duplicated(scripted: Session) -> None:
    uri = "file:///work/pkg/greet.py"
    scripted.script({"contains": "<filename>greet.py", "choices": ['"Ada")']})
    line = "greet()"
    scripted.open(uri, f'def greet(name):\n    print("Hello, " + name)\n\n\n{line}\n')
    result = await scripted.inline(uri, 4, len("greet("))
    assert result.items
    item = result.items[0]
    edited = (
        line[: item.range.start.character] + item.insert_text + line[item.range.end.character :]
    )
    assert edited == 'greet("Ada")'


async def test_completion_fallback_for_editors_without_inline(scripted: Session) -> None:
    if scripted.profile == VSCODE:
        pytest.skip("offered only to clients without inline completion")
    uri = "file:///work/pkg/fallback.py"
    scripted.script({"contains": "<filename>fallback.py", "choices": ["tal + 1"]})
    scripted.open(uri, "def n(total):\n    return to\n")
    result = await scripted.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=at(1, 13)
        )
    )
    assert result.is_incomplete
    assert [item.text_edit.new_text for item in result.items] == ["total + 1"]
    item = result.items[0]
    # from the start of the word being typed, so the editor's filtering keeps the item
    assert item.text_edit.range == types.Range(start=at(1, 11), end=at(1, 13))
    assert item.label == "total + 1"


async def test_document_text_stays_out_of_the_log_above_debug(scripted: Session) -> None:
    uri = "file:///work/pkg/login.py"
    scripted.script({"contains": "<filename>login.py", "choices": ["check(password_hunter2)"]})
    scripted.open(uri, 'password_hunter2 = "in the document"\nok = \n')
    assert texts(await scripted.inline(uri, 1, 5)) == ["check(password_hunter2)"]
    log = scripted.log()
    assert "request" in log  # the request was logged (info), without the text
    assert "hunter2" not in log and "in the document" not in log
