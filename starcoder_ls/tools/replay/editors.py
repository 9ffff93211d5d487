"""What an editor does around the user's edits: when it sends changes and asks for
suggestions, what it cancels, and which text it shows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from lsprotocol import types

from starcoder_ls.cursor.context import character_to_units, offset_at_or_raise
from starcoder_ls.tools.driver import ENCODING, item_text

EDITORS = ("vscode", "neovim")

Edit = tuple[int, int, str, str]
"""(line, column, line text before the edit, inserted text), as `Driver.insert` takes it."""


def ghost_text(item: types.InlineCompletionItem, line: int, line_prefix: str) -> str | None:
    """The text an editor shows after the cursor for `item`, or None when the item does not
    continue what is typed on the cursor line (`line_prefix`: the line up to the cursor)."""
    text = item_text(item)
    if item.range is None:
        return text
    start = item.range.start
    if start.line != line or start.character > character_to_units(
        line_prefix, len(line_prefix), ENCODING
    ):
        return None
    typed = line_prefix[offset_at_or_raise(line_prefix, 0, start.character, ENCODING) :]
    return text[len(typed) :] if text.startswith(typed) else None


def accepts(ghost: str, remaining: str) -> bool:
    """The user presses Tab for exactly what they were about to type, or a start of it."""
    return bool(ghost.strip()) and remaining.startswith(ghost)


class EditorHost(Protocol):
    """The session, as the editor sees it."""

    def sync(self, edits: Sequence[Edit]) -> None:
        """Send a didChange with `edits`."""

    def ask(self) -> None:
        """Send an automatic inline completion request at the cursor."""

    def cancel_all(self) -> None:
        """`$/cancelRequest` every unanswered inline request."""

    def execute(self, command: types.Command) -> None:
        """`workspace/executeCommand`, without waiting for its answer."""

    def focus(self) -> None:
        """`starcoder/didFocus` at the cursor."""


class Editor:
    """When the editor sends changes and requests, and what it cancels."""

    def __init__(self, session: EditorHost) -> None:
        self.session = session

    def opened(self) -> bool:
        """The document was opened in an editor with the cursor placed, before any key; True
        when the editor told the server where the cursor is (`starcoder/didFocus`)."""
        return False

    def edited(self, edit: Edit) -> None:
        """The user changed the document at the cursor."""
        raise NotImplementedError

    def accepted(self, edit: Edit, command: types.Command | None) -> None:
        """Tab inserted a suggestion; the editor then runs the item's command."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send changes held back, before any other message about the document."""

    def stop(self) -> None:
        self.flush()


class VsCode(Editor):
    """Every change is sent at once and asks again, cancelling the request before it. The
    extension says where the cursor landed when a file's editor gets the focus."""

    def opened(self) -> bool:
        self.session.focus()
        return True

    def edited(self, edit: Edit) -> None:
        self.session.sync([edit])
        self.session.cancel_all()
        self.session.ask()

    def accepted(self, edit: Edit, command: types.Command | None) -> None:
        self.session.sync([edit])
        self.session.cancel_all()
        if command is not None:
            self.session.execute(command)
        self.session.ask()


class Neovim(Editor):
    """Neovim 0.12's `vim.lsp.inline_completion`: a request 200 ms after the last change
    (requests in flight are not cancelled by typing, only by accepting), and changes
    sent in batches 150 ms after the last one (`debounce_text_changes`), or just before
    a request."""

    REQUEST_DELAY_S = 0.2
    CHANGES_DELAY_S = 0.15

    def __init__(self, session: EditorHost) -> None:
        super().__init__(session)
        self._held: list[Edit] = []
        self._timers: list[asyncio.TimerHandle] = []

    def _restart_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers = [
            loop.call_later(self.CHANGES_DELAY_S, self.flush),
            loop.call_later(self.REQUEST_DELAY_S, self._request),
        ]

    def edited(self, edit: Edit) -> None:
        self._held.append(edit)
        self._restart_timers()

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self.session.sync(held)

    def _request(self) -> None:
        self.flush()
        self.session.ask()

    def accepted(self, edit: Edit, command: types.Command | None) -> None:
        """`inline_completion.get()`: abort (cancel requests in flight), insert, run the
        command (its request flushes the change first); the change asks again later."""
        self.session.cancel_all()
        self._held.append(edit)
        self.flush()
        if command is not None:
            self.session.execute(command)
        self._restart_timers()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        self.flush()


def make_editor(name: str, host: EditorHost) -> Editor:
    if name == "vscode":
        return VsCode(host)
    if name == "neovim":
        return Neovim(host)
    raise ValueError(f"unknown editor {name!r}; known: {', '.join(EDITORS)}")
