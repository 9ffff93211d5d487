from __future__ import annotations

import json
from pathlib import Path

import pytest

from starcoder_ls.config import Settings, describe, merge


def test_camel_case_options_are_applied() -> None:
    result = merge(Settings(), {"maxNewTokens": 64, "debounceMs": 0, "languages": ["python"]})
    assert result.errors == []
    assert result.settings.max_new_tokens == 64
    assert result.settings.debounce_ms == 0
    assert result.settings.language_enabled("python")
    assert not result.settings.language_enabled("rust")


def test_vs_code_section_is_unwrapped() -> None:
    result = merge(Settings(), {"starcoder": {"temperature": 0.2, "topP": 0.9}})
    assert (result.settings.temperature, result.settings.top_p) == (0.2, 0.9)


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"maxNewTokens": -3}, "max_new_tokens", "maxNewTokens"),
        ({"maxNewTokens": "many"}, "max_new_tokens", "integer"),
        ({"temperature": float("nan")}, "temperature", "temperature"),
        ({"device": "tpu"}, "device", "cuda:N"),
        ({"dtype": "int3"}, "dtype", "bfloat16"),
        ({"fimTemplate": "nope"}, "fim_template", "starcoder"),
        ({"languages": "*", "fim": "yes"}, "fim", "true or false"),
        ({"enabled": 1}, "enabled", "enabled"),
    ],
)
def test_invalid_value_names_the_field_and_keeps_the_old_value(
    options: dict, field: str, words: str
) -> None:
    current = Settings(max_new_tokens=99)
    result = merge(current, options)
    assert len(result.errors) == 1
    assert words in result.errors[0]
    assert getattr(result.settings, field) == getattr(current, field)


def test_valid_fields_apply_even_when_another_is_invalid() -> None:
    result = merge(Settings(), {"maxNewTokens": 0, "debounceMs": 40})
    assert result.settings.debounce_ms == 40
    assert result.settings.max_new_tokens == Settings().max_new_tokens
    assert "maxNewTokens" in result.errors[0]


def test_unknown_and_non_object_settings_are_reported() -> None:
    assert "unknown setting starcoder.colour" in merge(Settings(), {"colour": 1}).errors[0]
    assert merge(Settings(), [1, 2]).errors == ["starcoder settings must be an object"]


def test_null_leaves_a_setting_as_it_is_and_words_select_defaults() -> None:
    current = Settings(model="bigcode/starcoder", fim_template="starcoder-spm", context_window=2048)
    assert merge(current, {"model": None}).settings.model == "bigcode/starcoder"
    changed = merge(current, {"model": "embedded", "fimTemplate": "auto", "contextWindow": "auto"})
    assert changed.errors == []
    assert changed.settings.model is None
    assert changed.settings.fim_template is None
    assert changed.settings.context_window is None


def test_model_key_changes_only_with_model_fields() -> None:
    base = Settings()
    assert merge(base, {"debounceMs": 10}).settings.model_key == base.model_key
    assert merge(base, {"dtype": "float16"}).settings.model_key != base.model_key


def test_excluded_language() -> None:
    settings = merge(Settings(), {"languages": ["*", "!markdown"]}).settings
    assert settings.language_enabled("python")
    assert not settings.language_enabled("markdown")


def test_every_setting_is_described_with_its_default() -> None:
    names = {name for name, _, _ in describe()}
    assert {"model", "maxNewTokens", "debounceMs", "fimTemplate", "maxSuggestions"} <= names


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in readme.splitlines()
        if line.startswith("| `")
    }
    for name, default, _ in describe():
        assert name in rows, f"README has no row for {name}"
        shown = "auto" if default is None else default
        if isinstance(default, bool):
            shown = str(default).lower()
        if name == "model":
            shown = "embedded"
        if isinstance(default, tuple):
            shown = json.dumps(list(default))
        assert str(shown) in rows[name].split("|")[2], f"README default of {name}"


def test_multiline_and_disabled_filters_are_checked() -> None:
    result = merge(Settings(), {"multiline": "sometimes", "disabledFilters": ["no_such_filter"]})
    assert result.settings == Settings()
    assert any("multiline" in e and "auto, always, never" in e for e in result.errors)
    assert any("no_such_filter" in e and "balance_brackets" in e for e in result.errors)
    ok = merge(Settings(), {"multiline": "never", "disabledFilters": ["balance_brackets"]})
    assert ok.errors == []
    assert ok.settings.multiline == "never"
    assert ok.settings.disabled_filters == ("balance_brackets",)


@pytest.mark.parametrize(
    ("options", "effective"),
    [
        ({}, 0),
        ({"backend": "openai"}, 150),
        ({"backend": "tgi", "debounceMs": 40}, 40),
        ({"debounceMs": 75}, 75),
        ({"debounceMs": 75, "backend": "ollama"}, 75),
        ({"debounceMs": "auto", "backend": "ollama"}, 150),
    ],
)
def test_auto_debounce_waits_only_for_a_shared_remote_engine(options: dict, effective: int) -> None:
    result = merge(Settings(debounce_ms=20), {"debounceMs": "auto"} | options)
    assert result.errors == []
    assert result.settings.debounce == effective


def test_a_rejected_endpoint_is_shown_without_its_password() -> None:
    current = Settings(endpoint="http://alice:s3cret@gw.example:8000/v1")
    result = merge(current, {"endpoint": "ftp://bob:hunter2@gw.example/v1"})
    assert result.settings.endpoint == current.endpoint
    (error,) = result.errors
    assert "starcoder.endpoint" in error and "ftp://bob:***@gw.example/v1" in error
    assert "hunter2" not in error and "s3cret" not in error
    assert "http://alice:***@gw.example:8000/v1" in error
