"""Emacs in batch mode with Eglot: the README's init snippet, then `completion-at-point`
inserts the embedded model's completion into the buffer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.editors.conftest import (
    ADD_LINE,
    EDITORS,
    HERE,
    INSTALL,
    SERVER,
    readme_snippet,
    run_editor,
)

EL = EDITORS / "emacs" / "starcoder-ls.el"
RASSUMFRASSUM = EDITORS / ".test-editors" / "rassumfrassum"


@pytest.mark.editor
@pytest.mark.slow
def test_emacs_eglot_completion_at_point(
    emacs_with_eglot: str, server: Path, add_py: Path, tmp_path: Path
) -> None:
    init = tmp_path / "init.el"
    init.write_text(readme_snippet("emacs"))
    result_file = tmp_path / "result.json"
    log_file = tmp_path / "server.log"
    run = run_editor(
        [
            emacs_with_eglot,
            "--batch",
            "-q",
            "-l",
            str(init),
            "-l",
            str(HERE / "emacs" / "driver.el"),
        ],
        {
            "STARCODER_ARGS": json.dumps(["--log-file", str(log_file)]),
            # One suggestion, so that completion-at-point inserts it without a menu.
            "STARCODER_INIT": json.dumps({"maxNewTokens": 16, "maxSuggestions": 1}),
            "STARCODER_FILE": str(add_py),
            "STARCODER_LINE": str(ADD_LINE),
            "STARCODER_RESULT": str(result_file),
            "STARCODER_TIMEOUT": "240",
        },
        result_file,
        log_file,
        cwd=tmp_path,
    )
    result, explain = run.result, run.explain()
    assert run.returncode == 0 and "error" not in result, explain
    assert result["default_program"] == str(SERVER), "the repository's .venv is found"
    assert result["major_mode"] == "python-mode"
    assert (
        ":initializationOptions (:maxNewTokens 16 :maxSuggestions 1 :debounceMs 0)"
        in result["contact"]
    ), explain
    caps = result["server_capabilities"]
    assert caps["completionProvider"], "Eglot declares no inline completion: popup offered"
    assert "starcoder.status" in caps["executeCommandProvider"]["commands"]
    assert result["status"]["state"] == "ready", explain
    assert result["status_command"]["state"] == "ready"
    assert result["last_status_notification"]["state"] == "ready", "starcoder/status handled"
    assert result["before"] == "    return "
    assert result["after"].startswith("    return "), explain
    assert "a + b" in result["after"], explain
    assert result["buffer"].endswith("\n\n\nprint(add(1, 2))\n"), "the rest is untouched"
    assert "Server sent unknown notification" not in run.output, explain


@pytest.mark.editor
def test_emacs_package_byte_compiles_without_warnings(
    emacs_with_eglot: str, tmp_path: Path
) -> None:
    copy = tmp_path / "starcoder-ls.el"
    copy.write_text(EL.read_text())
    done = subprocess.run(
        [
            emacs_with_eglot,
            "--batch",
            "-q",
            "--eval",
            "(setq byte-compile-error-on-warn t)",
            "-f",
            "batch-byte-compile",
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "starcoder-ls.elc").exists()


@pytest.mark.editor
def test_emacs_companion_server_runs_behind_the_multiplexer(emacs_with_eglot: str) -> None:
    """With a companion server, Eglot's contact is `rass -- <server> -- starcoder-ls`."""
    code = f"""
(progn
  (add-to-list 'load-path {json.dumps(str(EDITORS / "emacs"))})
  (require 'starcoder-ls)
  (setq starcoder-ls-companion-servers '((python-mode . ("pylsp" "-v"))))
  (starcoder-ls-eglot-setup)
  (starcoder-ls-eglot-setup)
  (princ (json-serialize
          (list :python (vconcat (let ((major-mode 'python-mode))
                                   (seq-take-while #'stringp (starcoder-ls-contact))))
                :c (vconcat (let ((major-mode 'c-mode))
                              (seq-take-while #'stringp (starcoder-ls-contact))))
                :entries (length (seq-filter (lambda (e) (eq (cdr e) #'starcoder-ls-contact))
                                             eglot-server-programs))
                :first (if (eq (cdr (car eglot-server-programs)) #'starcoder-ls-contact)
                           t :false)))))
"""
    done = subprocess.run(
        [emacs_with_eglot, "--batch", "-q", "--eval", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    program = str(SERVER)
    assert result["python"] == ["rass", "--", "pylsp", "-v", "--", program]
    assert result["c"] == [program]
    assert result["entries"] == 1, "setting up twice registers once"
    assert result["first"] is True, "ahead of the language's default server"


@pytest.fixture
def rass(tmp_path: Path) -> Path:
    """`rass`, as `pip install rassumfrassum` provides it (installed with --target here)."""
    if not (RASSUMFRASSUM / "rassumfrassum" / "__init__.py").exists():
        pytest.skip(f"rassumfrassum is not installed: {INSTALL}")
    script = tmp_path / "bin" / "rass"
    script.parent.mkdir()
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH="{RASSUMFRASSUM}" exec "{sys.executable}" -m rassumfrassum "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.mark.editor
@pytest.mark.slow
def test_emacs_beside_the_languages_own_server(
    emacs_with_eglot: str, server: Path, rass: Path, tmp_path: Path
) -> None:
    """README: pylsp and starcoder-ls behind rassumfrassum, one Eglot connection; both
    servers' candidates in one list, and ours inserted when chosen."""
    pylsp = shutil.which("pylsp")
    if not pylsp:
        pytest.skip(f"pylsp is not installed (Debian: python3-pylsp): {INSTALL}")
    init = tmp_path / "init.el"
    init.write_text(readme_snippet("emacs") + readme_snippet("emacs-companion"))
    project = tmp_path / "project"
    project.mkdir()
    source = project / "use_os.py"
    source.write_text("import os\n\nos.pa\n")
    result_file = tmp_path / "result.json"
    log_file = tmp_path / "server.log"
    run = run_editor(
        [
            emacs_with_eglot,
            "--batch",
            "-q",
            "-l",
            str(init),
            "-l",
            str(HERE / "emacs" / "driver.el"),
        ],
        {
            "STARCODER_ARGS": json.dumps(["--log-file", str(log_file)]),
            "STARCODER_INIT": json.dumps({"maxNewTokens": 8, "maxSuggestions": 1}),
            "STARCODER_COMPANION": json.dumps(["pylsp"]),
            "STARCODER_MULTIPLEXER": str(rass),
            "STARCODER_FILE": str(source),
            "STARCODER_LINE": "3",
            "STARCODER_RESULT": str(result_file),
            "STARCODER_TIMEOUT": "240",
        },
        result_file,
        log_file,
        cwd=tmp_path,
    )
    result, explain = run.result, run.explain()
    assert run.returncode == 0 and "error" not in result, explain
    assert result["contact"].startswith(f'("{rass}" "--" "pylsp" "--" "{SERVER}"'), explain
    assert result["status"]["state"] == "ready", "starcoder.status is routed to starcoder-ls"
    candidates = result["candidates"]
    ours = [c for c in candidates if c["detail"].startswith("starcoder-ls")]
    theirs = [c["candidate"] for c in candidates if not c["detail"].startswith("starcoder-ls")]
    assert len(ours) == 1, explain
    assert "path" in theirs, f"pylsp's completions are there too: {candidates}"
    assert result["after"].startswith("os.pa") and len(result["after"]) > len("os.pa"), explain
    assert result["after"] == "os." + ours[0]["candidate"], explain
