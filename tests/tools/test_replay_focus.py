"""The typing replay focuses each region's file as VS Code's extension does: one
`starcoder/didFocus` at the cursor once the file is open, then the user reads for a
thinking pause before the first key."""

from __future__ import annotations

from typing import Any

import pytest

from starcoder_ls.tools.replay.counters import Counters
from starcoder_ls.tools.replay.regions import Typing
from starcoder_ls.tools.replay.session import Session

pytestmark = pytest.mark.asyncio


class Notifications:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def notify(self, method: str, params: Any) -> None:
        self.sent.append((method, params))


class Client:
    def __init__(self) -> None:
        self.protocol = Notifications()


class Driver:
    timeout_s = 5.0

    def __init__(self) -> None:
        self.client = Client()


class NoCounters:
    def read(self, done: Any) -> None:
        done(Counters())


def opened(editor: str, focused: bool) -> list[tuple[str, Any]]:
    """What the editor sent on opening; `focused`: whether the user then reads a moment."""
    driver = Driver()
    session = Session(driver, editor, typing=Typing(), seed=0, probe=NoCounters())  # type: ignore[arg-type]
    session._uri, session._text, session._cursor = "file:///m.py", "s = 'é'\nx = \n", 12
    assert session.editor.opened() is focused
    return driver.client.protocol.sent


async def test_vscode_says_where_the_cursor_landed() -> None:
    assert opened("vscode", True) == [
        (
            "starcoder/didFocus",
            {"textDocument": {"uri": "file:///m.py"}, "position": {"line": 1, "character": 4}},
        )
    ]


async def test_neovim_as_configured_by_lsp_enable_sends_no_focus() -> None:
    assert opened("neovim", False) == []
