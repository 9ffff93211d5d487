"""Helix: languages.toml parses, uses only Helix's documented keys, and keeps each
language's default servers (Helix replaces a language's list, it does not extend it).

Helix is not packaged for Debian 12 and cannot be downloaded here, so it is not run.
"""

from __future__ import annotations

import sys

import pytest

from tests.editors.conftest import EDITORS, REPO, readme_snippet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

LANGUAGES_TOML = EDITORS / "helix" / "languages.toml"

# From Helix 25.07.1's book, languages.md ("Language Server configuration", "Language
# configuration", and the feature list of "Configuring Language Servers for a language").
SERVER_KEYS = {"command", "args", "config", "timeout", "environment", "required-root-patterns"}
LANGUAGE_KEYS = {
    "name", "language-id", "scope", "injection-regex", "file-types", "shebangs", "roots",
    "auto-format", "diagnostic-severity", "comment-tokens", "comment-token",
    "block-comment-tokens", "indent", "language-servers", "grammar", "formatter",
    "soft-wrap", "text-width", "rulers", "path-completion", "workspace-lsp-roots",
    "persistent-diagnostic-sources",
}  # fmt: skip
SERVER_REFERENCE_KEYS = {"name", "only-features", "except-features"}
FEATURES = {
    "format", "goto-declaration", "goto-definition", "goto-type-definition",
    "goto-reference", "goto-implementation", "signature-help", "hover",
    "document-highlight", "completion", "code-action", "workspace-command",
    "document-symbols", "workspace-symbols", "diagnostics", "rename-symbol", "inlay-hints",
}  # fmt: skip

# Helix 25.07.1's default `language-servers` for the languages we extend (languages.toml).
HELIX_DEFAULTS = {
    "python": ["ty", "ruff", "jedi", "pylsp"],
    "rust": ["rust-analyzer"],
    "javascript": ["typescript-language-server"],
    "typescript": ["typescript-language-server"],
    "tsx": ["typescript-language-server"],
    "jsx": ["typescript-language-server"],
    "go": ["gopls", "golangci-lint-lsp"],
    "c": ["clangd"],
    "cpp": ["clangd"],
    "java": ["jdtls"],
    "ruby": ["ruby-lsp", "solargraph"],
    "lua": ["lua-language-server"],
    "bash": ["bash-language-server"],
    "php": ["intelephense"],
    "kotlin": ["kotlin-language-server"],
    "zig": ["zls"],
}


def check_config(config: dict) -> None:
    assert set(config) <= {"language-server", "language"}, set(config)
    ours = config["language-server"]["starcoder-ls"]
    assert set(ours) <= SERVER_KEYS, set(ours) - SERVER_KEYS
    assert isinstance(ours["command"], str) and ours["command"].endswith("starcoder-ls")
    assert isinstance(ours.get("args", []), list)
    assert isinstance(ours.get("timeout", 20), int)
    assert ours["config"]["debounceMs"] == 0, "Helix waits for idle itself"
    for language in config["language"]:
        assert set(language) <= LANGUAGE_KEYS, set(language) - LANGUAGE_KEYS
        servers = language["language-servers"]
        names = []
        for server in servers:
            if isinstance(server, dict):
                assert set(server) <= SERVER_REFERENCE_KEYS, server
                for key in ("only-features", "except-features"):
                    assert set(server.get(key, [])) <= FEATURES, server
                names.append(server["name"])
            else:
                names.append(server)
        assert names[-1] == "starcoder-ls", language["name"]
        assert names[:-1] == HELIX_DEFAULTS[language["name"]], (
            f"{language['name']}: Helix's default servers must be kept"
        )


def test_helix_languages_toml() -> None:
    config = tomllib.loads(LANGUAGES_TOML.read_text())
    check_config(config)
    assert {language["name"] for language in config["language"]} == set(HELIX_DEFAULTS)


def test_helix_readme_snippet() -> None:
    config = tomllib.loads(readme_snippet("helix"))
    check_config(config)
    command = config["language-server"]["starcoder-ls"]["command"]
    assert command == str(REPO / ".venv" / "bin" / "starcoder-ls")


def test_helix_language_entries_are_the_files() -> None:
    """The README's Python entry is the file's, so copying either gives the same."""
    readme = tomllib.loads(readme_snippet("helix"))
    shipped = tomllib.loads(LANGUAGES_TOML.read_text())
    python = next(lang for lang in shipped["language"] if lang["name"] == "python")
    assert readme["language"] == [python]
    readme_server = readme["language-server"]["starcoder-ls"]
    shipped_server = shipped["language-server"]["starcoder-ls"]
    assert {k: v for k, v in readme_server.items() if k != "command"} == {
        k: v for k, v in shipped_server.items() if k != "command"
    }
