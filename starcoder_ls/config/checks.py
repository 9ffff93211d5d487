"""What each setting accepts: one check per field, turning a JSON value into the field's
value or raising `Invalid` with words for the user."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from starcoder_ls.engine.acceleration import ATTENTION
from starcoder_ls.engine.healing import INDENTATION
from starcoder_ls.engine.placement import DTYPES
from starcoder_ls.engine.quantize import CPU_WEIGHTS
from starcoder_ls.text.names import camel

DEVICES = ("auto", "cpu", "cuda", "mps")
EMBEDDED = "embedded"
"""The `model` value that selects the embedded SmolLM2-135M (also the default)."""


class Invalid(ValueError):
    pass


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid("must be true or false")


def _int_in(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be an integer from {low} to {high}")
        if not low <= value <= high:
            raise Invalid(f"must be from {low} to {high}")
        return value

    return check


def _float_in(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"must be a number from {low} to {high}")
        # Compared before any conversion: an integer too big for a float would overflow.
        if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
            raise Invalid(f"must be from {low} to {high}")
        return float(value)

    return check


def _auto_or(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def auto_or(value: Any) -> Any:
        return None if value == "auto" else check(value)

    return auto_or


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be a non-empty string")
    return value.strip()


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value in choices:
            return value
        raise Invalid(f"must be one of {', '.join(choices)}")

    return check


def _device(value: Any) -> str:
    if isinstance(value, str) and (value in DEVICES or _is_cuda_index(value)):
        return value
    raise Invalid(f"must be one of {', '.join(DEVICES)} or cuda:N")


def _is_cuda_index(value: str) -> bool:
    return value.startswith("cuda:") and value[5:].isdigit()


def _model(value: Any) -> str | None:
    text = _text(value)
    return None if text == EMBEDDED else text


def _template(value: Any) -> str | None:
    from starcoder_ls.engine.fim import TEMPLATES

    if value == "auto":
        return None
    if isinstance(value, str) and value in TEMPLATES:
        return value
    raise Invalid(f"must be auto or one of {', '.join(sorted(TEMPLATES))}")


def _languages(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid('must be a list of language ids, e.g. ["*"] or ["python", "rust"]')
    return tuple(value)


def _patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise Invalid('must be a list of glob patterns, e.g. ["*.csv", "fixtures/"]')
    return tuple(v.strip() for v in value)


def _filters(value: Any) -> tuple[str, ...]:
    from starcoder_ls.postprocess import FILTERS

    names = [step.__name__ for step in FILTERS]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"must be a list of filter names from {', '.join(names)}")
    unknown = [v for v in value if v not in names]
    if unknown:
        raise Invalid(f"unknown filter {unknown[0]!r}; filters are {', '.join(names)}")
    return tuple(value)


def _per_language(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One value for every language, or an object of language ids to values ("*": the
    others), kept as pairs so that settings stay hashable."""

    def per_language(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return check(value)
        if not value:
            raise Invalid('must be a value or an object of language ids, e.g. {"*": ...}')
        pairs = []
        for language, each in value.items():
            if not isinstance(language, str) or not language.strip():
                raise Invalid("language ids must be non-empty strings")
            try:
                pairs.append((language.strip(), check(each)))
            except Invalid as exc:
                raise Invalid(f"{language}: {exc}") from None
        return tuple(pairs)

    return per_language


MULTILINE = ("auto", "always", "never")
LEADING_LINE_BREAK = ("allow", "forbid", "nextLine")
BACKENDS = ("local", "openai", "tgi", "ollama")


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    return value.strip()


def _endpoint(value: Any) -> str:
    text = _optional_text(value)
    if text and not (text.startswith(("http://", "https://")) and len(text.split("//", 1)[1])):
        raise Invalid('must be an http:// or https:// URL, e.g. "http://gpu-box:8000/v1"')
    return text.rstrip("/")


def _env_name(value: Any) -> str:
    text = _text(value)
    if not (text.replace("_", "a").isalnum() and not text[0].isdigit()):
        raise Invalid("must be an environment variable name, e.g. STARCODER_API_KEY")
    return text


CHECKS: dict[str, Callable[[Any], Any]] = {
    "enabled": _bool,
    "model": _model,
    "device": _device,
    "dtype": _one_of(DTYPES),
    "allow_downloads": _bool,
    "max_new_tokens": _int_in(1, 4096),
    "context_window": _auto_or(_int_in(256, 1_048_576)),
    "temperature": _float_in(0.0, 2.0),
    "top_p": _float_in(0.01, 1.0),
    "debounce_ms": _auto_or(_int_in(0, 5000)),
    "fim": _bool,
    "fim_template": _template,
    "prefix_share": _float_in(0.05, 0.95),
    "languages": _languages,
    "token_healing": _bool,
    "heal_indentation": _per_language(_one_of(INDENTATION)),
    "repetition_stop": _per_language(_bool),
    "leading_line_break": _per_language(_one_of(LEADING_LINE_BREAK)),
    "kv_reuse": _bool,
    "prompt_lookup": _int_in(0, 64),
    "draft_model": _optional_text,
    "attention": _one_of(ATTENTION),
    "static_cache": _bool,
    "compile": _bool,
    "cpu_weights": _one_of(CPU_WEIGHTS),
    "cross_file_context": _bool,
    "prefetch": _bool,
    "warm_on_focus": _bool,
    "decode_budget_ms": _int_in(0, 60_000),
    "keep_typed_generation": _bool,
    "next_line_ahead": _bool,
    "excluded_files": _patterns,
    "max_suggestions": _int_in(1, 10),
    "multiline": _one_of(MULTILINE),
    "postprocess": _bool,
    "disabled_filters": _filters,
    "backend": _one_of(BACKENDS),
    "endpoint": _endpoint,
    "remote_model": _optional_text,
    "api_key_env": _env_name,
    "ca_bundle": _optional_text,
    "connect_timeout_ms": _int_in(100, 120_000),
    "read_timeout_ms": _int_in(100, 600_000),
}
BY_WIRE_NAME = {camel(name): name for name in CHECKS}
"""Setting names as editors send them (camelCase) to the fields they set."""
