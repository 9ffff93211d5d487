"""Text captures of the terminal editors for editors/README.md: real Neovim 0.11 and Emacs
with Eglot (the ones tests/editors drives), each configured with the README's snippet, in
tmux, with the embedded model. The cursor goes after `return ` in a sample file, the
editor is asked for a completion the user's way, and the screen is captured as text
(`tmux capture-pane`) once the suggestion shows.

    make screenshots        (python -m tests.editors.terminal_captures [README])

Each capture replaces the fenced block between `<!-- capture: NAME -->` and
`<!-- /capture: NAME -->` in the README. Every wait is bounded; the tmux server is private
to the run and killed at the end.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.editors.conftest import EDITORS, INSTALL, NVIM_011, readme_snippet
from tests.editors.screenshots import SAMPLE
from tests.editors.vscode_rig import until

LINE = 3
"""`    return` in the sample: the editor appends a space and asks for the rest."""
WIDTH, HEIGHT = 100, 12
READY_S = 300
"""The server started by the editor, its model loaded and a first answer (2 busy cores)."""


class Tmux:
    """One tmux server of our own (its own socket), one window running the editor."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "tmux.sock"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, f"tmux {args}: {done.stderr}"
        return done.stdout

    def start(self, argv: list[str], cwd: Path) -> None:
        self.run(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            "-c",
            str(cwd),
            "env",
            "TERM=xterm-256color",
            *argv,
        )
        self.run("set-option", "-g", "status", "off")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", *keys)

    def text(self, *keys: str) -> None:
        self.run("send-keys", "-l", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=30
        )


@contextmanager
def session(argv: list[str], cwd: Path) -> Iterator[Tmux]:
    tmux = Tmux(cwd)
    tmux.start(argv, cwd)
    try:
        yield tmux
    finally:
        tmux.kill()


def row(screen: str, index: int) -> str:
    rows = screen.split("\n")
    return rows[index] if index < len(rows) else ""


def ask_until_shown(
    tmux: Tmux, ask: Callable[[], None], shown: Callable[[str], bool], retract: Callable[[], None]
) -> str:
    """Asks for a completion until the screen shows one (the first asks may come before
    the model is ready); returns that screen."""
    deadline = time.monotonic() + READY_S
    while True:
        ask()
        try:
            return until("the suggestion on screen", lambda: shown(s := tmux.screen()) and s, 15)
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no suggestion shown:\n{tmux.screen()}") from None
            retract()


def neovim(folder: Path) -> str:
    """Neovim 0.11 with the README's `vim.lsp.enable` snippet and completeopt
    `menuone,noinsert`: <C-x><C-o> in insert mode opens the completion menu (ghost text
    needs 0.12)."""
    if not NVIM_011.exists():
        raise SystemExit(f"no Neovim 0.11 in {NVIM_011}: {INSTALL}")
    init = folder / "init.lua"
    # The menu even for one item, nothing inserted before <C-y>: the suggestion stays shown.
    init.write_text(readme_snippet("neovim-0.11") + "vim.opt.completeopt = 'menuone,noinsert'\n")
    (folder / "stats.py").write_text(SAMPLE)
    argv = [str(NVIM_011), "--clean", "--cmd", f"luafile {init}", "stats.py"]
    with session(argv, folder) as tmux:
        until("Neovim to show the file", lambda: "def average" in tmux.screen(), 60)
        tmux.keys(f"{LINE}G", "A")
        tmux.text(" ")

        def ask() -> None:
            tmux.keys("C-x", "C-o")

        def retract() -> None:
            """Nothing to take back: with no answer the menu did not open."""

        return ask_until_shown(tmux, ask, lambda s: row(s, LINE).strip() != "", retract)


def emacs(folder: Path) -> str:
    """Emacs with Eglot and the README's snippet: C-M-i (completion-at-point)."""
    binary = shutil.which("emacs")
    if not binary:
        raise SystemExit(f"Emacs is not installed: {INSTALL}")
    init = folder / "init.el"
    init.write_text(readme_snippet("emacs"))
    (folder / "stats.py").write_text(SAMPLE)
    quiet = "(setq native-comp-async-report-warnings-errors 'silent)"  # Debian's xref.el
    argv = [binary, "-nw", "-q", "--eval", quiet, "-l", str(init), "stats.py"]
    with session(argv, folder) as tmux:
        until("Emacs to show the file", lambda: "def average" in tmux.screen(), 60)
        tmux.keys("M-g", "g")
        tmux.text(str(LINE))
        tmux.keys("Enter", "C-e")
        tmux.text(" ")

        def ask() -> None:
            tmux.keys("Escape", "Tab")  # C-M-i

        def retract() -> None:
            tmux.keys("C-g")

        # One suggestion: completion-at-point inserts it (several: a *Completions* list).
        return ask_until_shown(
            tmux, ask, lambda s: bool(re.search(r"^ +return \S", s, re.MULTILINE)), retract
        )


def tidy(screen: str) -> str:
    lines = [line.rstrip() for line in screen.rstrip("\n").split("\n")]
    return "\n".join(lines).rstrip("\n")


def paste(readme: Path, name: str, screen: str) -> None:
    """Replaces the block between the capture markers of `name` with `screen`."""
    text = readme.read_text()
    pattern = re.compile(
        rf"(<!-- capture: {re.escape(name)} -->\n).*?(<!-- /capture: {re.escape(name)} -->)",
        flags=re.DOTALL,
    )
    assert pattern.search(text), f"{readme} has no <!-- capture: {name} --> marker"
    block = f"```text\n{tidy(screen)}\n```\n"
    readme.write_text(pattern.sub(lambda m: m[1] + block + m[2], text, count=1))


def main(readme: Path) -> None:
    if not shutil.which("tmux"):
        raise SystemExit("tmux is not installed (Debian: tmux)")
    for name, capture in (("neovim", neovim), ("emacs", emacs)):
        with tempfile.TemporaryDirectory(prefix=f"starcoder-capture-{name}-") as tmp:
            folder = Path(tmp) / "project"  # the name Eglot's mode line shows
            folder.mkdir()
            screen = capture(folder)
        print(f"--- {name}\n{tidy(screen)}")
        paste(readme, name, screen)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else EDITORS / "README.md")
