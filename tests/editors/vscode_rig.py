"""A real VS Code for the tests: code-server (VS Code 1.96 served to a browser) shown in
Debian's chromium, driven by Playwright, with the extension installed from its .vsix.

Installed by editors/install-test-editors.sh into editors/.test-editors/. Every wait here
is bounded (a hang guard, not a timing): a test fails with a screenshot instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.editors.conftest import EDITORS, INSTALL, VSCODE

TOOLS = EDITORS / ".test-editors"
CODE_SERVER = TOOLS / "code-server" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
PLAYWRIGHT = TOOLS / "playwright"
CHROMIUM = Path("/usr/bin/chromium")
EXTENSION_ID = "starcoder-ls.starcoder-ls"

STARTUP_S = 180
"""code-server up and the workbench shown (the first start compiles nothing, but 2 busy
cores make it slow)."""
MODEL_S = 300
"""The embedded model loading in the server the extension started."""
SUGGESTION_S = 120
"""A suggestion after typing (the first one also warms the model)."""


def missing() -> str | None:
    """Why the rig cannot run here, or None."""
    recorded = TOOLS / "vscode-real.missing"
    if recorded.exists():
        return f"VS Code rig: {recorded.read_text().strip()} ({INSTALL})"
    if not CODE_SERVER.exists() or not any(TOOLS.glob("code-server/.installed-*")):
        return f"code-server is not installed in {TOOLS}: {INSTALL}"
    if not (PLAYWRIGHT / "playwright").is_dir():
        return f"Playwright is not installed in {PLAYWRIGHT}: {INSTALL}"
    if not CHROMIUM.exists():
        return f"no {CHROMIUM} (Debian: chromium): {INSTALL}"
    if not shutil.which("node"):
        return "Node.js is not installed"
    if not (VSCODE / "node_modules" / "@vscode" / "vsce").exists():
        return f"editors/vscode/node_modules is missing: {INSTALL}"
    return None


def import_playwright() -> Any:
    if str(PLAYWRIGHT) not in sys.path:
        sys.path.append(str(PLAYWRIGHT))  # after the venv's own packages
    from playwright import sync_api

    return sync_api


def build_vsix(dest: Path) -> Path:
    """The .vsix built the README's way (`npm run package`), moved out of the source tree."""
    built = VSCODE / "starcoder-ls.vsix"
    built.unlink(missing_ok=True)
    done = subprocess.run(
        ["npm", "run", "package"],
        cwd=VSCODE,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and built.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    target = dest / "starcoder-ls.vsix"
    shutil.move(built, target)
    return target


PROBE_JS = """
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(vscode.commands.registerCommand('starcoderProbe.stats', async () => {
    const stats = await vscode.commands.executeCommand('starcoder.stats');
    const out = path.join(process.env.STARCODER_PROBE_DIR, 'stats.json');
    fs.writeFileSync(out + '.tmp', JSON.stringify(stats));
    fs.renameSync(out + '.tmp', out);
  }));
};
"""


def probe_vsix(dest: Path) -> Path:
    """A test-only extension with one palette command, "StarCoder Probe: Write Stats": it
    runs the server's `starcoder.stats` through the StarCoder client, as any extension
    could, and writes the answer to $STARCODER_PROBE_DIR/stats.json."""
    manifest = {
        "name": "starcoder-probe",
        "publisher": "starcoder-ls-tests",
        "version": "0.0.1",
        "engines": {"vscode": "^1.91.0"},
        "main": "./extension.js",
        "activationEvents": ["onCommand:starcoderProbe.stats"],
        "contributes": {
            "commands": [
                {
                    "command": "starcoderProbe.stats",
                    "title": "Write Stats",
                    "category": "StarCoder Probe",
                }
            ]
        },
    }
    vsixmanifest = """<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata>
    <Identity Language="en-US" Id="starcoder-probe" Version="0.0.1" Publisher="starcoder-ls-tests"/>
    <DisplayName>starcoder-probe</DisplayName>
    <Description xml:space="preserve">test probe</Description>
    <Properties><Property Id="Microsoft.VisualStudio.Code.Engine" Value="^1.91.0"/></Properties>
  </Metadata>
  <Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/></Installation>
  <Dependencies/>
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json"
           Addressable="true"/>
  </Assets>
</PackageManifest>
"""
    types = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension=".json" ContentType="application/json"/>
  <Default Extension=".js" ContentType="application/javascript"/>
  <Default Extension=".vsixmanifest" ContentType="text/xml"/>
</Types>
"""
    target = dest / "starcoder-probe.vsix"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("extension.vsixmanifest", vsixmanifest)
        archive.writestr("extension/package.json", json.dumps(manifest))
        archive.writestr("extension/extension.js", PROBE_JS)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[tuple[int, str]] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        found.append((child, cmdline.replace(b"\0", b" ").decode(errors="replace")))
        todo.extend(children.get(child, []))
    return found


class CodeServer:
    """One code-server process with its own user data, extensions and settings."""

    def __init__(
        self, root: Path, settings: dict[str, Any], keybindings: Sequence[dict[str, str]] = ()
    ) -> None:
        self.root = root
        self.user_data = root / "user-data"
        self.extensions = root / "extensions"
        self.probe_dir = root / "probe"
        for folder in (self.user_data / "User", self.extensions, self.probe_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.write_settings(settings)
        (self.user_data / "User" / "keybindings.json").write_text(json.dumps(list(keybindings)))
        self.config = root / "config.yaml"
        self.config.write_text("auth: none\ncert: false\n")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.output = root / "code-server.log"

    def argv(self, *extra: str) -> list[str]:
        return [
            "node",
            str(CODE_SERVER),
            "--config",
            str(self.config),
            "--user-data-dir",
            str(self.user_data),
            "--extensions-dir",
            str(self.extensions),
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            *extra,
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "STARCODER_PROBE_DIR": str(self.probe_dir)}

    def write_settings(self, settings: dict[str, Any]) -> None:
        """User settings, as settings.json edited by hand (VS Code watches the file)."""
        (self.user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=1))

    def install(self, vsix: Path) -> None:
        done = subprocess.run(
            self.argv("--install-extension", str(vsix)),
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
        )
        assert done.returncode == 0, f"installing {vsix.name}:\n{done.stdout}{done.stderr}"

    def start(self) -> None:
        with self.output.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv("--bind-addr", f"127.0.0.1:{self.port}"),
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def healthy() -> bool:
            assert self.process and self.process.poll() is None, self.output.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5):
                    return True
            except OSError:
                return False

        until("code-server to answer", healthy, STARTUP_S, every=0.5)

    def url(self, folder: Path) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={folder}"

    def servers(self) -> list[int]:
        """The starcoder-ls processes VS Code started."""
        if not self.process:
            return []
        return [
            pid
            for pid, cmdline in descendants(self.process.pid)
            if "starcoder-ls" in cmdline and "node" not in cmdline.split(" ", 1)[0]
        ]

    def channel_log(self) -> str:
        """The StarCoder output channel as VS Code writes it to disk: `time [level] text`."""
        files = sorted(self.user_data.glob(f"logs/*/exthost*/{EXTENSION_ID}/StarCoder.log"))
        return "\n".join(path.read_text(errors="replace") for path in files)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


QUICK_INPUT = ".quick-input-widget .quick-input-box input"
ICON_CLASSES = """els => els.map(e =>
    [...e.classList].find(c => c.startsWith('codicon-') && c !== 'codicon') || '')"""
GHOST_TEXT = """() => [...document.querySelectorAll(
    '.monaco-editor.focused .ghost-text-decoration, ' +
    '.monaco-editor.focused .ghost-text-decoration-preview, .monaco-editor.focused .ghost-text')
  ].map(e => e.textContent).join('')"""
"""The inline suggestion's text as VS Code 1.96 draws it: the part on the cursor's line, and
further lines in view zones below it."""
GHOST_LINES = """() => {
  const editor = document.querySelector('.monaco-editor.focused');
  if (!editor) return [];
  const first = [...editor.querySelectorAll(
    '.ghost-text-decoration, .ghost-text-decoration-preview')].map(e => e.textContent).join('');
  const below = [...editor.querySelectorAll('.suggest-preview-text .view-line')]
    .map(e => e.textContent);
  return first || below.length ? [first, ...below] : [];
}"""
"""The same, line by line: [the part on the cursor's line, each line below]."""


class Workbench:
    """The VS Code page: what a user sees and does, through Playwright."""

    STATUS = f'[id="{EXTENSION_ID}.starcoder.status"]'

    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots

    def screenshot(self, name: str) -> Path:
        path = self.shots / (re.sub(r"[^\w.-]+", "-", name) + ".png")
        self.page.screenshot(path=str(path))
        return path

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A failure inside keeps a screenshot of the window and prints where it is."""
        try:
            yield
        except BaseException:
            try:
                path = self.screenshot(f"failed-{name}")
                print(f"\nscreenshot of the failure ({name}): {path}")
            except Exception as exc:  # the page itself may be gone
                print(f"\nno screenshot of the failure ({name}): {exc}")
            raise

    def wait_loaded(self) -> None:
        self.page.wait_for_selector(".monaco-workbench .part.statusbar", timeout=STARTUP_S * 1000)

    def status(self) -> str:
        item = self.page.query_selector(self.STATUS)
        if not item:
            return ""
        label = item.get_attribute("aria-label") or ""
        icons = item.eval_on_selector_all(".codicon", ICON_CLASSES)
        return f"{' '.join(icons)} {label}".strip()

    def status_tooltip(self) -> str:
        """Hovers the status bar item and reads its tooltip."""
        self.page.mouse.move(0, 0)
        self.page.hover(self.STATUS)
        hover = self.page.wait_for_selector(
            ".workbench-hover, .monaco-hover-content", timeout=20_000, state="visible"
        )
        text = hover.inner_text()
        self.page.mouse.move(0, 0)
        self.page.keyboard.press("Escape")
        return text

    def command(self, title: str) -> None:
        """Runs a command from the palette by its full title."""
        self.page.keyboard.press("F1")
        box = self.page.wait_for_selector(QUICK_INPUT, state="visible", timeout=20_000)
        box.fill(f">{title}")
        self.page.wait_for_selector(
            f'.quick-input-list .monaco-list-row.focused[aria-label*="{title}"]', timeout=20_000
        )
        self.page.keyboard.press("Enter")

    def pick(self, label: str) -> None:
        """Chooses the entry of the open quick pick whose label holds `label`."""
        box = self.page.wait_for_selector(QUICK_INPUT, state="visible", timeout=20_000)
        box.fill(label)
        self.page.wait_for_selector(
            f'.quick-input-list .monaco-list-row.focused[aria-label*="{label}"]', timeout=20_000
        )
        self.page.keyboard.press("Enter")

    def open_file(self, name: str) -> None:
        """Quick Open (Ctrl+P), the file's name, Enter; once more if its tab is not shown."""
        for attempt in range(3):
            try:
                self._open_file(name)
                return
            except Exception:
                if attempt == 2:
                    raise
                self.page.keyboard.press("Escape")

    def _open_file(self, name: str) -> None:
        self.page.keyboard.press("Control+P")
        box = self.page.wait_for_selector(QUICK_INPUT, state="visible", timeout=20_000)
        box.fill(name)
        self.page.wait_for_selector(
            f'.quick-input-list .monaco-list-row.focused[aria-label*="{name}"]', timeout=20_000
        )
        self.page.keyboard.press("Enter")
        self.page.wait_for_selector(f'.tab.active[aria-label*="{name}"]', timeout=20_000)
        self.page.wait_for_selector(".monaco-editor .view-lines", timeout=20_000)

    def go_to_line_end(self, line: int) -> None:
        self.page.keyboard.press("Control+G")
        box = self.page.wait_for_selector(QUICK_INPUT, state="visible", timeout=20_000)
        box.fill(f":{line}")
        self.page.keyboard.press("Enter")
        self.page.keyboard.press("End")

    def editor_matches_add_py(self) -> bool:
        """Line 2 of the active editor is back to `return ` with nothing after it."""
        text = self.page.evaluate(
            "() => [...document.querySelectorAll('.monaco-editor.focused .view-line')]"
            ".map(e => e.textContent).join('\\n')"
        )
        return "return a" not in text.replace("\xa0", " ")

    def editor_text(self) -> str:
        """The lines the active editor shows (all of a short file), blanks as spaces."""
        text = self.page.evaluate(
            "() => [...document.querySelectorAll("
            "'.monaco-editor.focused .view-lines > .view-line')]"
            ".sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))"
            ".map(e => e.textContent).join('\\n')"
        )
        return text.replace("\xa0", " ")

    def ghost_text(self) -> str:
        """The inline suggestion shown in the active editor ('' when none)."""
        return self.page.evaluate(GHOST_TEXT)

    def ghost_lines(self) -> list[str]:
        """The inline suggestion shown, line by line ([] when none; blanks as spaces)."""
        return [line.replace("\xa0", " ") for line in self.page.evaluate(GHOST_LINES)]
