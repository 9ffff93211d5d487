"""VS Code: the extension builds, packages and passes its unit tests, its settings are the
server's, and the server answers inline completion as VS Code's client asks for it.

VS Code itself cannot be installed here (no Debian package, no download), so one Node test
talks to the server with vscode-languageserver-protocol / vscode-jsonrpc, the libraries
vscode-languageclient is built on, declaring the capabilities vscode-languageclient
computes; another activates the extension with the real vscode-languageclient and a
stand-in for the `vscode` module.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from starcoder_ls.config import DTYPES, describe
from starcoder_ls.engine.fim import TEMPLATES
from tests.editors.conftest import REPO, SERVER, VSCODE, readme_snippet

MANIFEST = json.loads((VSCODE / "package.json").read_text())
PROPERTIES = MANIFEST["contributes"]["configuration"]["properties"]


def npm(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    import os

    done = subprocess.run(
        ["npm", *args],
        cwd=VSCODE,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{output[-6000:]}"
    return output


def tap_counts(output: str) -> dict[str, int]:
    return {
        key: int(value) for key, value in re.findall(r"^# (pass|fail|skipped) (\d+)$", output, re.M)
    }


@pytest.mark.editor
def test_vscode_extension_compiles_and_passes_its_unit_tests(node: str) -> None:
    npm("run", "compile")
    counts = tap_counts(output := npm("test"))
    assert counts.get("fail") == 0 and counts.get("pass", 0) >= 20, output[-3000:]


@pytest.mark.editor
@pytest.mark.slow
def test_vscode_client_against_the_server(node: str, server: Path, tmp_path: Path) -> None:
    """Two Node tests against a real server (editors/vscode/src/protocol-test/):

    - inlineCompletion.test.ts: vscode-languageserver-protocol over vscode-jsonrpc with
      the capabilities vscode-languageclient declares; items and ranges as VS Code needs;
    - extension.test.ts: the extension activated with the real vscode-languageclient and
      a stand-in `vscode` module; status bar, toggle, settings, the inline provider.
    """
    npm("run", "compile")
    log_file = tmp_path / "server.log"
    output = npm(
        "run",
        "test:protocol",
        env={
            "STARCODER_LS_COMMAND": json.dumps([str(SERVER), "--log-file", str(log_file)]),
            "STARCODER_LS_OPTIONS": json.dumps(
                {"debounceMs": 0, "maxNewTokens": 16, "maxSuggestions": 2}
            ),
            "STARCODER_LS_EXPECT": "a + b",
        },
        timeout=400,
    )
    counts = tap_counts(output)
    log = log_file.read_text() if log_file.exists() else ""
    assert counts.get("fail") == 0 and counts.get("skipped") == 0, output[-6000:] + log[-3000:]
    assert counts.get("pass", 0) >= 12, output[-6000:]
    assert "suggestion accepted" in log, "the item's command reached the server"


def _wire_default(name: str, default: object) -> object:
    """A Settings default as it is written on the wire (None has a name there)."""
    if default is None:
        return "embedded" if name == "model" else "auto"
    if isinstance(default, tuple):
        return list(default)
    return default


def test_vscode_settings_are_the_servers_with_the_same_defaults() -> None:
    server_settings = {name: _wire_default(name, default) for name, default, _ in describe()}
    contributed = {
        key.removeprefix("starcoder."): value
        for key, value in PROPERTIES.items()
        if not key.startswith(("starcoder.server.", "starcoder.trace."))
    }
    assert set(contributed) == set(server_settings)
    for name, default in server_settings.items():
        assert contributed[name]["default"] == default, name
        assert contributed[name].get("description") or contributed[name].get("markdownDescription")
    assert contributed["dtype"]["enum"] == list(DTYPES)
    assert set(contributed["fimTemplate"]["enum"]) == {"auto", *TEMPLATES}
    extension_side = (VSCODE / "src" / "settings.ts").read_text()
    for name in server_settings:
        assert f"'{name}'" in extension_side, f"{name} is not forwarded by src/settings.ts"


@pytest.mark.editor
def test_vscode_vsix_packages_as_the_readme_says(node: str) -> None:
    snippet = readme_snippet("vscode-package")
    assert f"cd {VSCODE}" in snippet
    assert "npm ci && npm run package" in snippet
    assert "code --install-extension starcoder-ls.vsix" in snippet
    vsix = VSCODE / "starcoder-ls.vsix"
    vsix.unlink(missing_ok=True)
    try:
        npm("run", "package")
        with zipfile.ZipFile(vsix) as archive:
            names = set(archive.namelist())
            manifest = json.loads(archive.read("extension/package.json"))
            recorded = json.loads(archive.read("extension/out/repo-root.json"))
    finally:
        vsix.unlink(missing_ok=True)
    assert "extension/out/extension.js" in names
    assert "extension/node_modules/vscode-languageclient/package.json" in names
    assert not any(name.startswith(("extension/src/", "extension/out/test/")) for name in names)
    assert manifest["contributes"] == MANIFEST["contributes"]
    assert recorded == {"root": str(REPO)}, "an installed .vsix finds this checkout's .venv"
