"""One VS Code window for the tests and the screenshots: code-server with the extension
(from its .vsix) and the test probe installed, a project holding the sample, chromium
showing it; and what the tests read from it (status bar, stats, output channel)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.editors import vscode_rig as rig
from tests.editors.conftest import ADD_LINE, ADD_PY

SETTINGS = {
    # VS Code's own, so that nothing but the file and the status bar is in the way.
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "security.workspace.trust.enabled": False,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "telemetry.telemetryLevel": "off",
    "files.autoSave": "off",
}

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(\w+)\] (.*)$")


@dataclass
class VSCode:
    server: rig.CodeServer
    bench: rig.Workbench
    project: Path
    seen: list[str] = field(default_factory=list)
    """Every status bar state seen, in order, from the window's first paint."""

    def wait_status(self, what: str, check: Any, timeout: float = rig.MODEL_S) -> str:
        def probe() -> str | None:
            status = self.bench.status()
            if status and (not self.seen or self.seen[-1] != status):
                self.seen.append(status)
            return status if check(status) else None

        return rig.until(what, probe, timeout)

    def stats(self) -> dict[str, Any]:
        """starcoder.stats, asked through the StarCoder client by the probe extension."""
        out = self.server.probe_dir / "stats.json"
        out.unlink(missing_ok=True)
        self.bench.command("StarCoder Probe: Write Stats")
        rig.until("the probe's stats.json", out.exists, 60)
        return json.loads(out.read_text())

    def settled_stats(self, timeout: float = 60) -> dict[str, Any]:
        """starcoder.stats once no model call is still running: a generation superseded a
        moment ago is counted when it ends, after the stats of the moment were read."""
        deadline = time.monotonic() + timeout
        last = self.stats()
        while time.monotonic() < deadline:
            time.sleep(1.5)
            now = self.stats()
            if now["modelCalls"] == last["modelCalls"]:
                return now
            last = now
        raise AssertionError(f"model calls still running after {timeout} s: {last}")

    def channel(self) -> list[tuple[str, str]]:
        """(level, text) of each line of the StarCoder output channel."""
        return [
            (match[1], match[2])
            for line in self.server.channel_log().splitlines()
            if (match := RECORD.match(line))
        ]

    def edit_user_settings(self, settings: dict[str, Any]) -> None:
        """As a user does: Open User Settings (JSON), replace the text, save, close."""
        page = self.bench.page
        self.bench.command("Preferences: Open User Settings (JSON)")
        page.wait_for_selector('.tab.active[aria-label*="settings.json"]', timeout=30_000)
        page.wait_for_selector(".monaco-editor.focused", timeout=30_000)
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        # One line, inserted rather than typed: no auto-closing or auto-indenting.
        page.keyboard.insert_text(json.dumps(settings))
        page.keyboard.press("Control+S")
        path = self.server.user_data / "User" / "settings.json"
        rig.until("settings.json saved", lambda: path.read_text() == json.dumps(settings), 30)

    def restore_add_py(self) -> None:
        """The sample as it was, in the editor too (VS Code reloads a file changed on disk)."""
        path = self.project / "add.py"
        if path.read_text() != ADD_PY:
            path.write_text(ADD_PY)
            self.bench.open_file("add.py")
            rig.until("the editor to show the file again", self.bench.editor_matches_add_py, 30)

    def restore(self, name: str, text: str) -> None:
        """A file of the project as it was, in the editor too (unsaved edits reverted)."""
        self.bench.open_file(name)
        self.bench.command("File: Revert File")
        path = self.project / name
        if path.read_text() != text:
            path.write_text(text)
        rig.until(
            f"the editor to show {name} as on disk",
            lambda: self.bench.editor_text().rstrip("\n") == text.rstrip("\n"),
            30,
        )

    def suggestion_after_typing(self) -> str:
        """Retypes the space after `return` on line 2 and waits for the ghost text."""
        self.bench.open_file("add.py")
        self.bench.go_to_line_end(ADD_LINE)
        self.bench.page.keyboard.press("Backspace")
        self.bench.page.keyboard.type(" ")
        ghost = rig.until("ghost text", self.bench.ghost_text, rig.SUGGESTION_S)
        return ghost.replace("\xa0", " ")


def open_vscode(
    root: Path,
    settings: dict[str, Any],
    shots: Path,
    playwright: Any,
    files: dict[str, str] | None = None,
    viewport: tuple[int, int] = (1280, 800),
    keybindings: Sequence[dict[str, str]] = (),
) -> Iterator[VSCode]:
    """code-server with the extension and the probe installed, shown in chromium."""
    project = root / "project"
    project.mkdir(parents=True)
    for name, text in (files or {"add.py": ADD_PY}).items():
        (project / name).write_text(text)
    server = rig.CodeServer(root, {**SETTINGS, **settings}, keybindings)
    server.install(rig.build_vsix(root))
    server.install(rig.probe_vsix(root))
    server.start()
    browser = playwright.chromium.launch(executable_path=str(rig.CHROMIUM), headless=True)
    try:
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.set_default_timeout(60_000)
        bench = rig.Workbench(page, shots)
        vscode = VSCode(server, bench, project)
        with bench.step("open-vscode"):
            page.goto(server.url(project))
            bench.wait_loaded()
        yield vscode
    finally:
        browser.close()
        server.stop()
