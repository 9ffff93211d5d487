"""The protocol on the tiny random StarCoder: the FIM prompt, encodings, settings, bad input."""

from __future__ import annotations

import asyncio
import re

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import NEOVIM, VSCODE, Session

pytestmark = pytest.mark.asyncio(loop_scope="module")


def prompts(session: Session) -> list[str]:
    return re.findall(r"prompt: '(.*)'$", session.log(), flags=re.M)


async def test_capabilities_follow_the_client(tiny: Session) -> None:
    caps = tiny.capabilities
    assert caps.inline_completion_provider is not None
    if tiny.profile == VSCODE:
        assert caps.completion_provider is None
        assert caps.position_encoding in (None, "utf-16")
    else:
        assert caps.completion_provider is not None
        assert caps.position_encoding == "utf-8"  # Neovim lists utf-8 first
    sync = caps.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_status_names_the_model_and_fim_template(tiny: Session) -> None:
    status = await tiny.status()
    assert status["state"] == "ready"
    assert status["template"] == "starcoder"
    assert status["device"] == "cpu"


async def test_model_receives_the_exact_fim_prompt(tiny: Session) -> None:
    uri = "file:///work/pkg/mod.py"
    tiny.open(uri, "def f(x):\n    return x\n\nprint(f(2))\n")
    await tiny.inline(uri, 1, 11)
    assert prompts(tiny)[-1] == (
        "<filename>mod.py\\n<fim_prefix>def f(x):\\n    return <fim_suffix>x\\n\\nprint(f(2))\\n"
        "<fim_middle>"
    )


@pytest.mark.parametrize(
    ("before", "name"),
    [("😀", "emoji"), ("漢字", "cjk"), ("é", "precomposed"), ("e\u0301", "combining")],
)
async def test_multibyte_text_before_the_cursor(tiny: Session, before: str, name: str) -> None:
    uri = f"file:///work/pkg/{name}.py"
    line = f'label = "{before}" + '
    tiny.open(uri, f"{line}\n")
    units = {"utf-8": len(line.encode()), "utf-16": len(line.encode("utf-16-le")) // 2}
    character = units[tiny.encoding]
    result = await tiny.inline(uri, 0, character)
    assert f"<filename>{name}.py\\n<fim_prefix>{line}<fim_suffix>" in prompts(tiny)[-1]
    for item in result.items:
        assert item.range.start == types.Position(line=0, character=character)


async def test_incremental_edits_are_tracked(tiny: Session) -> None:
    uri = "file:///work/pkg/edit.py"
    tiny.open(uri, "x = 1\ny = \n")
    tiny.replace(uri, 2, (1, 4), (1, 4), "x + ")
    await tiny.inline(uri, 1, 8)
    assert "<filename>edit.py\\n<fim_prefix>x = 1\\ny = x + <fim_suffix>" in prompts(tiny)[-1]


async def test_unknown_document_is_a_clear_error_and_the_server_goes_on(tiny: Session) -> None:
    with pytest.raises(JsonRpcException, match="unknown document"):
        await tiny.inline("file:///never/opened.py", 0, 0)
    uri = "file:///work/pkg/after_error.py"
    tiny.open(uri, "value = \n")
    assert isinstance(await tiny.inline(uri, 0, 8), types.InlineCompletionList)


async def test_position_past_the_end(tiny: Session) -> None:
    uri = "file:///work/pkg/short.py"
    tiny.open(uri, "a = 1\n")
    with pytest.raises(JsonRpcException, match="past the end"):
        await tiny.inline(uri, 40, 0)
    # a character past the line end is clamped to it (the LSP rule)
    result = await tiny.inline(uri, 0, 500)
    assert isinstance(result, types.InlineCompletionList)
    assert "<filename>short.py\\n<fim_prefix>a = 1<fim_suffix>" in prompts(tiny)[-1]


async def test_two_megabyte_document(tiny: Session) -> None:
    uri = "file:///work/pkg/huge.py"
    body = "".join(f"value_{i} = {i} * 2  # padding padding padding\n" for i in range(45_000))
    assert len(body) > 2_000_000
    tiny.open(uri, body + "total = \n")
    result = await tiny.inline(uri, 45_000, 8)
    assert isinstance(result, types.InlineCompletionList)
    prompt = prompts(tiny)[-1]
    assert "total = <fim_suffix>" in prompt
    assert len(prompt) < 8192 * 8  # fitted into the token budget, not the whole file


async def test_binary_looking_text_gets_an_empty_result(tiny: Session) -> None:
    uri = "file:///work/pkg/blob.bin"
    tiny.open(uri, "\x00\x01\x02ELF\x00\x00" * 100, language_id="plaintext")
    result = await tiny.inline(uri, 0, 3)
    assert not result.items
    assert "looks binary" in tiny.log()


async def test_invalid_setting_is_reported_and_the_old_value_kept(tiny: Session) -> None:
    await tiny.configure({"maxNewTokens": -5, "debounceMs": 0})
    errors = [m for m in tiny.client.messages if m.type == types.MessageType.Error]
    assert "maxNewTokens" in errors[-1].message
    uri = "file:///work/pkg/settings.py"
    tiny.open(uri, "answer = \n")
    assert isinstance(await tiny.inline(uri, 0, 9), types.InlineCompletionList)
    assert "generated" in tiny.log()


async def test_disabled_language_and_disabled_server(tiny: Session) -> None:
    uri = "file:///work/pkg/notes.md"
    tiny.open(uri, "# Notes\n\nSome \n", language_id="markdown")
    await tiny.configure({"languages": ["*", "!markdown"]})
    assert not (await tiny.inline(uri, 2, 5)).items
    assert "language 'markdown' is not enabled" in tiny.log()
    await tiny.configure({"languages": ["*"], "enabled": False})
    assert (await tiny.status())["state"] == "disabled"
    assert not (await tiny.inline(uri, 2, 5)).items
    await tiny.configure({"enabled": True})
    assert (await tiny.status())["state"] == "ready"


async def test_newer_request_supersedes_the_older(tiny: Session) -> None:
    uri = "file:///work/pkg/race.py"
    tiny.open(uri, "def g():\n    return \n")
    await tiny.configure({"debounceMs": 300})
    try:
        first = tiny.start_inline(uri, 1, 11)
        await asyncio.sleep(0.05)
        second = tiny.start_inline(uri, 1, 11)
        first_result, _ = await asyncio.gather(first, second)
    finally:
        await tiny.configure({"debounceMs": 0})
    assert not first_result.items
    assert "superseded while debouncing" in tiny.log()


async def test_edit_during_a_request_discards_its_result(tiny: Session) -> None:
    uri = "file:///work/pkg/stale.py"
    tiny.open(uri, "def h():\n    return \n")
    await tiny.configure({"debounceMs": 300})
    try:
        pending = tiny.start_inline(uri, 1, 11)
        await asyncio.sleep(0.05)
        tiny.replace(uri, 2, (1, 11), (1, 11), "1")
        result = await pending
    finally:
        await tiny.configure({"debounceMs": 0})
    assert not result.items


async def test_cancel_request_is_honoured(tiny: Session) -> None:
    uri = "file:///work/pkg/cancel.py"
    tiny.open(uri, "def k():\n    return \n")
    await tiny.configure({"debounceMs": 500})
    try:
        pending = asyncio.ensure_future(
            tiny.client.protocol.send_request_async(
                types.TEXT_DOCUMENT_INLINE_COMPLETION, tiny.inline_params(uri, 1, 11), msg_id=4242
            )
        )
        await asyncio.sleep(0.2)  # well inside the debounce
        tiny.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=4242))
        with pytest.raises(JsonRpcException, match="[Cc]ancel"):
            await asyncio.wait_for(pending, 10)
    finally:
        await tiny.configure({"debounceMs": 0})
    assert "cancelled by the client" in tiny.log()
    assert isinstance(await tiny.inline(uri, 1, 11), types.InlineCompletionList)


async def test_invoked_request_asks_for_several_choices(tiny: Session) -> None:
    uri = "file:///work/pkg/choices.py"
    tiny.open(uri, "def m():\n    return \n")
    await tiny.configure({"maxSuggestions": 3})
    result = await tiny.inline(uri, 1, 11, invoked=True)
    assert len(result.items) <= 3
    assert re.search(r"generated \d+/\d+ tokens", tiny.log())  # the 2 sampled alternatives


async def test_selected_completion_item_is_extended(tiny: Session) -> None:
    uri = "file:///work/pkg/selected.py"
    tiny.open(uri, "import os\nos.pa\n")
    selected = types.SelectedCompletionInfo(
        range=types.Range(
            start=types.Position(line=1, character=3), end=types.Position(line=1, character=5)
        ),
        text="path",
    )
    result = await tiny.inline(uri, 1, 5, selected=selected)
    assert (
        "<filename>selected.py\\n<fim_prefix>import os\\nos.path<fim_suffix>" in prompts(tiny)[-1]
    )
    for item in result.items:
        assert item.insert_text.startswith("path")
        assert item.range.start.character == 3


async def test_completion_fallback_for_editors_without_inline(tiny: Session) -> None:
    if tiny.profile != NEOVIM:
        pytest.skip("offered only to clients without inline completion")
    uri = "file:///work/pkg/fallback.py"
    tiny.open(uri, "def n():\n    return \n")
    result = await tiny.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=11),
        )
    )
    assert result.is_incomplete
    for item in result.items:
        assert item.text_edit.range.start.line == 1
