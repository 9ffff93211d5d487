"""The README's terminal captures (`make screenshots`): each is rewritten between its
markers, and editors/README.md has the markers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.editors.conftest import EDITORS
from tests.editors.terminal_captures import paste


def test_paste_replaces_only_its_own_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "a\n<!-- capture: neovim -->\n```text\nold\n```\n<!-- /capture: neovim -->\n"
        "b\n<!-- capture: emacs -->\n<!-- /capture: emacs -->\nc\n"
    )
    paste(readme, "neovim", "    return  \n~\n\n\n")
    paste(readme, "emacs", "C-M-i\n")
    assert readme.read_text() == (
        "a\n<!-- capture: neovim -->\n```text\n    return\n~\n```\n<!-- /capture: neovim -->\n"
        "b\n<!-- capture: emacs -->\n```text\nC-M-i\n```\n<!-- /capture: emacs -->\nc\n"
    )


@pytest.mark.parametrize("name", ["neovim", "emacs"])
def test_editors_readme_holds_a_capture(name: str) -> None:
    text = (EDITORS / "README.md").read_text()
    block = text.split(f"<!-- capture: {name} -->\n", 1)[1].split(f"<!-- /capture: {name} -->")[0]
    assert block.startswith("```text\n"), block
    assert re.search(r"return\s+\S", block), "a suggestion after `return` is shown"
