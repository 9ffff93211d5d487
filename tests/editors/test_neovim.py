"""Neovim, headless, with its built-in LSP client: the README's snippets as the config,
a real completion from the embedded model, and `textDocument/inlineCompletion` sent
through the same client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.editors.conftest import (
    ADD_LINE,
    EDITORS,
    HERE,
    SERVER,
    nvim_version,
    readme_snippet,
    run_editor,
)

DRIVER = HERE / "nvim" / "driver.lua"


def drive(
    nvim: str | Path, mode: str, snippet: str, add_py: Path, tmp_path: Path
) -> tuple[dict[str, Any], Any]:
    init = tmp_path / "init.lua"
    init.write_text(snippet)
    result_file = tmp_path / "result.json"
    log_file = tmp_path / "server.log"
    run = run_editor(
        [str(nvim), "--headless", "--clean", "--cmd", f"luafile {init}", "-c", f"luafile {DRIVER}"],
        {
            "STARCODER_MODE": mode,
            "STARCODER_ARGS": json.dumps(["--log-file", str(log_file)]),
            "STARCODER_INIT": json.dumps({"maxNewTokens": 16, "maxSuggestions": 2}),
            "STARCODER_FILE": str(add_py),
            "STARCODER_LINE": str(ADD_LINE),
            "STARCODER_RESULT": str(result_file),
            "STARCODER_OMNIFUNC": "1",
            "STARCODER_TIMEOUT_MS": "240000",
        },
        result_file,
        log_file,
        cwd=tmp_path,
    )
    assert run.returncode == 0 and "error" not in run.result, run.explain()
    return run.result, run


def check_session(result: dict[str, Any], run: Any) -> None:
    """What every Neovim version must show: ours attached, a real completion inserted."""
    explain = run.explain()
    assert result["client_name"] == "starcoder_ls", explain
    assert result["default_cmd"] == [str(SERVER)], "the config finds the repository's .venv"
    assert result["init_options"]["debounceMs"] == 0, explain
    assert result["init_options"]["maxNewTokens"] == 16, "user options merge with the file's"
    assert result["status"]["state"] == "ready", explain
    assert result["has_status_handler"] and all(result["commands"].values()), explain

    # Neovim < 0.12 declares no inline completion, so the popup completion is offered.
    assert result["completion_provider"], explain
    items = result["completion"]["items"]
    assert items and result["completion"]["isIncomplete"] is True, explain
    assert all(item["command"]["command"] == "starcoder.accepted" for item in items)
    assert "a + b" in items[0]["textEdit"]["newText"], explain
    assert result["completed_lines"][ADD_LINE - 1].startswith("    return "), explain
    assert "a + b" in result["completed_lines"][ADD_LINE - 1], explain

    # textDocument/inlineCompletion through the same client.
    inline = result["inline"]["items"]
    assert inline, explain
    for item in inline:
        assert item["range"]["start"] == {"line": ADD_LINE - 1, "character": 11}, explain
        assert item["command"]["command"] == "starcoder.accepted"
    assert any("a + b" in item["insertText"] for item in inline), explain

    # The user's way in: <C-x><C-o> in insert mode, <C-y>: the whole suggestion is inserted.
    assert result["omnifunc"] == "v:lua.vim.lsp.omnifunc", explain
    assert result["omnifunc_menu"]["items"], explain
    assert result["omnifunc_line"].startswith("    return "), explain
    assert "a + b" in result["omnifunc_line"], explain
    assert "suggestion accepted" in run.server_log, "accepting runs starcoder.accepted"


@pytest.mark.editor
@pytest.mark.slow
def test_neovim_011_lsp_config_and_enable(
    nvim_011: Path, server: Path, add_py: Path, tmp_path: Path
) -> None:
    result, run = drive(nvim_011, "enable", readme_snippet("neovim-0.11"), add_py, tmp_path)
    assert result["version"]["minor"] >= 11
    check_session(result, run)


@pytest.mark.editor
@pytest.mark.slow
def test_neovim_debian_setup_without_lspconfig(
    debian_nvim: str, server: Path, add_py: Path, tmp_path: Path
) -> None:
    version = nvim_version(debian_nvim)
    if version and version >= (0, 11, 0):
        pytest.skip(f"the system Neovim is {version}: the 0.7-0.10 path is for older ones")
    result, run = drive(debian_nvim, "setup", readme_snippet("neovim-legacy"), add_py, tmp_path)
    check_session(result, run)


@pytest.mark.editor
def test_neovim_accept_mapping_falls_through_to_tab(nvim_011: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    run = run_editor(
        [
            str(nvim_011),
            "--headless",
            "--clean",
            "--cmd",
            f"set rtp^={EDITORS / 'neovim'}",
            "-c",
            f"luafile {HERE / 'nvim' / 'accept_mapping.lua'}",
        ],
        {"STARCODER_RESULT": str(result_file)},
        result_file,
        timeout=60,
    )
    result = run.result
    assert run.returncode == 0 and "error" not in result, run.explain()
    assert result["enable_calls"][0] == {"enable": True, "filter": {"bufnr": result["bufnr"]}}
    assert result["tab_map"] == {
        "buffer": 1,
        "expr": 1,
        "desc": "Accept the starcoder-ls suggestion",
    }
    assert result["without_suggestion"] == "x\ty", "no suggestion: <Tab> inserts a tab"
    assert result["with_suggestion"] == "xy", "a suggestion: <Tab> accepts it, inserts no tab"
    assert result["get_calls_with"] == result["get_calls_without"] + 1
    assert result["select_calls"] == [
        {"bufnr": result["bufnr"], "count": 1},
        {"bufnr": result["bufnr"], "count": -1},
    ]
    assert result["tab_map_when_disabled"] == 0, (
        "vim.g.starcoder_ls_accept_key = false maps nothing"
    )


@pytest.mark.editor
def test_neovim_lspconfig_registration(debian_nvim: str, tmp_path: Path) -> None:
    """nvim-lspconfig is not packaged for Debian 12; its registry (`lspconfig.configs`, a
    table whose fields are server definitions, and `lspconfig.util.root_pattern`) is
    given as the plain table and function it is, to check what our module registers."""
    script = tmp_path / "register.lua"
    result_file = tmp_path / "result.json"
    script.write_text(
        f"""
local registry = {{}}
package.loaded['lspconfig.configs'] = registry
package.loaded['lspconfig.util'] = {{
  root_pattern = function(...) local markers = {{...}}; return function() return markers end end,
}}
local ok, err = pcall(function()
  require('starcoder_ls.lspconfig').register()
  require('starcoder_ls.lspconfig').register() -- twice: no error, no change
end)
local def = registry.starcoder_ls and registry.starcoder_ls.default_config or {{}}
local out = io.open('{result_file}', 'w')
out:write(vim.fn.json_encode({{
  error = not ok and tostring(err) or nil,
  cmd = def.cmd,
  init_options = def.init_options,
  single_file_support = def.single_file_support,
  root_markers = def.root_dir and def.root_dir() or nil,
  has_on_attach = type(def.on_attach) == 'function',
  has_status_handler = def.handlers ~= nil and def.handlers['starcoder/status'] ~= nil,
  description = registry.starcoder_ls and registry.starcoder_ls.docs.description,
}}))
out:close()
vim.cmd('qall!')
"""
    )
    run = run_editor(
        [
            debian_nvim,
            "--headless",
            "--clean",
            "--cmd",
            f"set rtp^={EDITORS / 'neovim'}",
            "-c",
            f"luafile {script}",
        ],
        {},
        result_file,
        timeout=60,
    )
    result = run.result
    assert run.returncode == 0 and not result.get("error"), run.explain()
    assert result["cmd"] == [str(SERVER)]
    assert result["init_options"] == {"debounceMs": 0}
    assert result["single_file_support"] is True
    assert result["root_markers"] == [".git"]
    assert result["has_on_attach"] and result["has_status_handler"]
    assert "starcoder-ls" in result["description"]
