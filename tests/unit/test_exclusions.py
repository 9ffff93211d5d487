"""Secrets stay out of prompts: files on the deny list are never completed and never used
as another file's context, and the refusal is logged without their text."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest

from starcoder_ls.completion.request import refusal
from starcoder_ls.config import Settings, merge
from starcoder_ls.cursor import exclusions
from starcoder_ls.cursor.crossfile import select_snippets
from starcoder_ls.cursor.exclusions import BUILT_IN, IGNORE_FILE, DenyList, deny_list
from starcoder_ls.text.types import OpenDocument
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, request_from, serving

SECRET = "AKIA_not_a_real_key_7f3c91"

DENIED = [
    "file:///home/u/proj/.env",
    "file:///home/u/proj/backend/.env.local",
    "file:///home/u/proj/prod.env",
    "file:///home/u/.ssh/id_rsa",
    "file:///home/u/.ssh/config",
    "file:///home/u/keys/id_ed25519",
    "file:///etc/ssl/private/server.pem",
    "file:///srv/tls/site.KEY",
    "file:///home/u/.aws/credentials",
    "file:///home/u/.netrc",
    "file:///home/u/proj/.npmrc",
    "file:///home/u/proj/config/secrets.yaml",
    "file:///home/u/proj/config/Secrets.JSON",
    "file:///home/u/proj/infra/prod.tfvars",
    "file:///home/u/.docker/config.json",
    "file:///home/u/.kube/config",
    "untitled:.env",
    # as VS Code writes them: every escape, and the drive's colon on Windows
    "file:///home/u/My%20Project/.env",
    "file:///c%3A/Users/u/.ssh/id_rsa",
    "file:///C:/Users/u/.aws/credentials",
    "file:///home/u/proj/sub/../.env",
    # the same files in a diff view, a notebook cell, a remote window
    "git:/home/u/proj/.env?%7B%22path%22%3A%22%2Fhome%2Fu%2Fproj%2F.env%22%2C%22ref%22%3A%22~%22%7D",
    "vscode-notebook-cell:/home/u/proj/secrets.ipynb#W0sZmlsZQ%3D%3D",
    "vscode-remote://ssh-remote%2Bbox/home/u/.ssh/id_ed25519",
]
ALLOWED = [
    "file:///home/u/proj/environment.py",
    "file:///home/u/proj/keyboard.py",
    "file:///home/u/proj/monkey.py",
    "file:///home/u/proj/secrets_manager.py",
    "file:///home/u/proj/env/settings.py",
    "file:///home/u/proj/aws/credentials.py",
    "file:///home/u/proj/docs/keys.md",
    "file:///home/u/proj/config.json",
    "untitled:Untitled-1",
]


@pytest.mark.parametrize("uri", DENIED)
def test_the_built_in_list_denies_secrets(uri: str) -> None:
    assert DenyList().match(uri) is not None


@pytest.mark.parametrize("uri", ALLOWED)
def test_ordinary_source_files_are_not_denied(uri: str) -> None:
    assert DenyList().match(uri) is None


def test_the_reason_names_the_pattern_and_where_it_comes_from() -> None:
    deny = DenyList(("*.tsv", "*.csv"))
    assert deny.match("file:///p/.env") == "'.env' (built in)"
    assert deny.match("file:///p/data/prices.csv") == "excludedFiles[1]", "no setting value"


def test_extra_patterns_add_to_the_built_in_list() -> None:
    deny = DenyList(("fixtures/", "data/**/*.json", "/private/*.py"))
    assert deny.match("file:///p/tests/fixtures/users.py") is not None
    assert deny.match("file:///p/data/2024/01/dump.json") is not None
    assert deny.match("file:///p/data/dump.json") is not None
    assert deny.match("file:///p/private/notes.py") is not None
    assert deny.match("file:///p/.env") is not None, "the built-in list still applies"
    assert deny.match("file:///p/tests/test_fixtures.py") is None
    assert deny.match("file:///p/src/data.json") is None


def test_deny_list_is_built_once_per_setting_value() -> None:
    assert deny_list(("*.csv",)) is deny_list(("*.csv",))
    assert deny_list(()).patterns == BUILT_IN


def test_ignore_files_follow_gitignore_rules(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "src" / "generated").mkdir(parents=True)
    (project / IGNORE_FILE).write_text(
        "# data the model must not see\n\n*.sql\n/src/generated/\ncustomers/\n!schema.sql\n"
    )
    (project / "src" / IGNORE_FILE).write_text("legacy.py\n")

    def denied(relative: str) -> str | None:
        return DenyList().match((project / relative).as_uri())

    assert denied("dump.sql") is not None
    assert denied("src/db/seed.sql") is not None
    assert denied("schema.sql") is None, "negated by a later line"
    assert denied("src/generated/api.py") is not None
    assert denied("tools/src/generated/api.py") is None, "anchored to the ignore file's folder"
    assert denied("src/customers/export.py") is not None
    assert denied("src/legacy.py") is not None
    assert denied("legacy.py") is None, "an ignore file applies below its folder only"
    assert denied("src/main.py") is None
    reason = denied("dump.sql")
    assert reason is not None and IGNORE_FILE in reason and "'*.sql'" in reason


def test_an_edited_ignore_file_is_read_again(tmp_path: Path) -> None:
    ignore_file = tmp_path / IGNORE_FILE
    target = (tmp_path / "notes.txt").as_uri()
    ignore_file.write_text("*.md\n")
    assert DenyList().match(target) is None
    ignore_file.write_text("*.md\nnotes.*\n")
    stat = ignore_file.stat()
    os.utime(ignore_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert DenyList().match(target) is not None
    ignore_file.unlink()
    assert DenyList().match(target) is None


def test_ignore_files_cannot_take_back_the_built_in_list(tmp_path: Path) -> None:
    (tmp_path / IGNORE_FILE).write_text("!.env\n")
    assert DenyList().match((tmp_path / ".env").as_uri()) is not None


def test_a_link_is_judged_by_the_file_it_points_to(tmp_path: Path) -> None:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "notes.txt").symlink_to(ssh / "id_rsa")
    (project / "keys").symlink_to(ssh, target_is_directory=True)
    (project / "readme.txt").write_text("ordinary\n")

    assert DenyList().match((project / "notes.txt").as_uri()) == "'id_rsa*' (built in)"
    assert DenyList().match((project / "keys" / "config").as_uri()) is not None
    assert DenyList().match((project / "readme.txt").as_uri()) is None

    linked = OpenDocument(
        uri=(project / "notes.txt").as_uri(),
        path="notes.txt",
        language_id="plaintext",
        text=f"def load_api_client(region):\n    return {SECRET!r}\n",
    )
    here = ctx_from("client = load_api_█\n", uri=(project / "main.py").as_uri())
    assert select_snippets(dataclasses.replace(here, other_documents=(linked,))) == []


def test_ignore_files_apply_to_every_view_of_a_file(tmp_path: Path) -> None:
    project = tmp_path / "My Project"
    project.mkdir()
    (project / IGNORE_FILE).write_text("customers.py\n/anchored.py\n")
    folder = project.as_uri()  # file:///.../My%20Project
    assert "%20" in folder
    views = [
        f"{folder}/customers.py",
        f"git:{project.as_uri()[len('file://') :]}/customers.py?%7B%22ref%22%3A%22HEAD%22%7D",
        f"vscode-notebook-cell:{project.as_uri()[len('file://') :]}/customers.py#W0sZmlsZQ%3D%3D",
        f"{folder}/nonexistent/../anchored.py",
        f"{folder}/anchored.py",
    ]
    for uri in views:
        assert DenyList().match(uri) is not None, uri
    assert DenyList().match(f"{folder}/nonexistent/anchored.py") is None


def test_a_pattern_of_many_double_stars_costs_steps_linear_in_its_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 `**` components used to backtrack exponentially, on the event loop."""
    (tmp_path / IGNORE_FILE).write_text("/".join(["**"] * 40) + "/x/y\n")
    calls = 0
    match = exclusions.fnmatch.fnmatchcase

    def counted(name: str, pattern: str) -> bool:
        nonlocal calls
        calls += 1
        assert calls < 200_000, "matching backtracks"
        return match(name, pattern)

    monkeypatch.setattr(exclusions.fnmatch, "fnmatchcase", counted)
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(30)], "x", "z.py")
    assert DenyList().match(deep.as_uri()) is None
    assert DenyList().match(deep.with_name("y").as_uri()) is not None
    assert calls < 20_000


def test_an_absurd_pattern_is_refused_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ignore_file = tmp_path / IGNORE_FILE
    ignore_file.write_text("/".join(["*"] * 100) + "\nplain.py\n")
    caplog.set_level(logging.WARNING)
    assert DenyList().match((tmp_path / "plain.py").as_uri()) is not None
    assert f"{ignore_file}:1: pattern refused" in caplog.text


def test_excluded_files_is_a_setting_of_glob_patterns() -> None:
    result = merge(Settings(), {"excludedFiles": ["*.csv", " fixtures/ "]})
    assert result.errors == []
    assert result.settings.excluded_files == ("*.csv", "fixtures/")
    bad = merge(Settings(), {"excludedFiles": ["*.csv", 3]})
    assert bad.settings.excluded_files == ()
    assert len(bad.errors) == 1 and "excludedFiles" in bad.errors[0]


def test_the_readme_lists_the_built_in_patterns() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| `excludedFiles`")]
    missing = [pattern for pattern in BUILT_IN if f"`{pattern}`" not in row]
    assert not missing, f"README's excludedFiles row does not name {missing}"


def test_a_denied_document_is_refused_before_anything_else() -> None:
    request = request_from(f"TOKEN={SECRET}█\n", uri="file:///p/.env", language_id="dotenv")
    reason = refusal(request, Settings())
    assert reason is not None and "deny list" in reason and SECRET not in reason
    extra = request_from("a,b█\n", uri="file:///p/prices.csv", language_id="csv")
    assert refusal(extra, Settings()) is None
    assert refusal(extra, Settings(excluded_files=("*.csv",))) is not None


KEYS = f"""\
def load_api_client(region):
    return ApiClient(region, key="{SECRET}")
"""


def test_cross_file_context_never_reads_a_denied_document() -> None:
    secrets = OpenDocument(
        uri="file:///p/secrets.py", path="secrets.py", language_id="python", text=KEYS
    )
    ordinary = OpenDocument(
        uri="file:///p/client.py",
        path="client.py",
        language_id="python",
        text=KEYS.replace(SECRET, "from-env"),
    )
    here = ctx_from("client = load_api_█\n", uri="file:///p/main.py")
    ctx = dataclasses.replace(here, other_documents=(secrets, ordinary))
    snippets = select_snippets(ctx)
    assert [path for path, _ in snippets] == ["client.py"]
    assert select_snippets(ctx, excluded=DenyList(("client.py",))) == []


async def test_the_service_sends_no_secret_to_the_model(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeEngine(lambda prompt, params: ["x"])
    dotenv = OpenDocument(
        uri="file:///p/.env",
        path=".env",
        language_id="dotenv",
        text=f"API_KEY={SECRET}\ndef load_api_client(): pass\n",
    )
    caplog.set_level(logging.INFO)
    async with serving(engine, Settings(debounce_ms=0)) as service:
        refused = await service.complete(
            request_from(f"API_KEY={SECRET}\nOTHER=█\n", uri="file:///p/.env")
        )
        assert refused.suggestions == [] and engine.calls == []
        answered = await service.complete(
            request_from("client = load_api_█\n", other_documents=(dotenv,))
        )
        assert answered.suggestions
    ((prompt, _),) = engine.calls
    assert SECRET not in prompt
    assert "deny list" in caplog.text
    assert SECRET not in caplog.text
