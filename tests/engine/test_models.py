"""The known-models table."""

from __future__ import annotations

import pytest

from starcoder_ls.engine import fim, models


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
