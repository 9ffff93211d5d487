"""The main job on the real embedded model: completions a user would accept."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.lsp.conftest import VSCODE, Session

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///work/demo/calc.py"


async def test_return_line_completes_the_sum(embedded: Session) -> None:
    text = "def add(a, b):\n    return \n"
    embedded.open(URI, text)
    result = await embedded.inline(URI, 1, len("    return "))
    assert result.items, "the embedded model should complete `return `"
    item = result.items[0]
    assert "a + b" in item.insert_text
    assert "\n" not in item.insert_text  # mid-line: one line only
    assert item.range.start == types.Position(line=1, character=len("    return "))
    assert item.command is not None and item.command.command == "starcoder.accepted"
    embedded.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )


async def test_completion_after_indentation_does_not_indent_again(embedded: Session) -> None:
    uri = "file:///work/demo/fact.py"
    text = "def factorial(n):\n    if n == 0:\n        return 1\n    \n"
    embedded.open(uri, text)
    result = await embedded.inline(uri, 3, 4)
    assert result.items
    first = result.items[0].insert_text
    assert not first.startswith((" ", "\t")), repr(first)
    assert "factorial" in first or "return" in first


async def test_auto_closed_parenthesis_is_replaced_not_duplicated(embedded: Session) -> None:
    uri = "file:///work/demo/greet.py"
    text = 'def greet(name):\n    print("Hello, " + name)\n\n\ngreet()\n'
    embedded.open(uri, text)
    result = await embedded.inline(uri, 4, len("greet("))
    assert result.items, "the embedded model should complete `greet(`"
    line = "greet()"
    for item in result.items:
        start, end = item.range.start.character, item.range.end.character
        edited = line[:start] + item.insert_text + line[end:]
        # whether the item covers the ")" right of the cursor or stops before it,
        # the accepted line closes the call once
        code = edited.split("#", 1)[0]
        assert code.count("(") == code.count(")"), edited


async def test_fallback_completion_inserts_the_same_text(embedded: Session) -> None:
    if embedded.profile == VSCODE:
        pytest.skip("VS Code declares inline completion; the fallback is not offered to it")
    uri = "file:///work/demo/calc2.py"
    embedded.open(uri, "def add(a, b):\n    return \n")
    result = await embedded.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=11),
        )
    )
    assert result.is_incomplete
    assert result.items
    item = result.items[0]
    assert "a + b" in item.text_edit.new_text
    assert item.label.strip()
    assert item.text_edit.range.start.line == 1
