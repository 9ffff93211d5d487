"""Takes the README's picture of ghost text in VS Code with the rig of the tests: the
extension's .vsix in code-server, the embedded model, default settings.

    make screenshots        (python -m tests.editors.screenshots [OUT_DIR])
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.editors import vscode_rig as rig
from tests.editors.conftest import EDITORS
from tests.editors.vscode_window import SETTINGS, open_vscode

SAMPLE = '''def average(numbers):
    """Mean of a list of numbers."""
    return


def median(numbers):
    """Middle value of a list of numbers."""
'''
LINE = 3
"""The line the cursor goes to: `return`, and a space typed after it asks for the rest."""

SETTINGS_SHOWN = {
    **SETTINGS,
    "workbench.activityBar.location": "hidden",
    "workbench.sideBar.location": "right",
    "editor.minimap.enabled": False,
    "window.commandCenter": False,
    "breadcrumbs.enabled": False,
    "editor.fontSize": 15,
}


def vscode_ghost_text(out: Path) -> Path:
    reason = rig.missing()
    if reason:
        raise SystemExit(f"cannot take the screenshot: {reason}")
    with (
        tempfile.TemporaryDirectory(prefix="starcoder-screenshot-") as tmp,
        rig.import_playwright().sync_playwright() as playwright,
    ):
        root = Path(tmp)
        for vscode in open_vscode(
            root, SETTINGS_SHOWN, root, playwright, {"stats.py": SAMPLE}, viewport=(900, 380)
        ):
            bench = vscode.bench
            with bench.step("screenshot"):
                vscode.wait_status("the ready status", lambda s: "codicon-sparkle" in s)
                bench.page.keyboard.press("Control+B")  # no side bar: the code and the status bar
                bench.open_file("stats.py")
                bench.go_to_line_end(LINE)
                bench.page.keyboard.type(" ")
                ghost = rig.until("ghost text", bench.ghost_text, rig.SUGGESTION_S)
                bench.page.mouse.move(0, 0)
                target = out / "vscode-ghost-text.png"
                bench.page.screenshot(path=str(target))
                print(f"{target}: ghost text {ghost.replace(chr(160), ' ')!r}")
                return target
    raise AssertionError("VS Code did not open")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else EDITORS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    vscode_ghost_text(folder)
