"""Settings: one kw-only dataclass, merged from the CLI, `initializationOptions` and
`workspace/didChangeConfiguration`.

Invalid values never replace good ones: `merge` returns the new settings built from the
valid fields plus one message per invalid field, and the server shows those messages and
keeps serving with the old value of each invalid field. What each field accepts is
`checks.py`'s.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starcoder_ls.config.checks import (
    BACKENDS,
    BY_WIRE_NAME,
    CHECKS,
    DEVICES,
    EMBEDDED,
    LEADING_LINE_BREAK,
    MULTILINE,
    Invalid,
)
from starcoder_ls.engine.placement import DTYPES
from starcoder_ls.engine.remote.urls import masked_url
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.text.names import camel

__all__ = [
    "BACKENDS",
    "DEVICES",
    "DTYPES",
    "EMBEDDED",
    "LEADING_LINE_BREAK",
    "MULTILINE",
    "REMOTE_DEBOUNCE_MS",
    "MergeResult",
    "PerLanguage",
    "Settings",
    "describe",
    "engine_settings",
    "merge",
    "unwrap",
]

PerLanguage = tuple[tuple[str, Any], ...]
"""A setting's value per language id ("*": the others), from a JSON object."""
REMOTE_DEBOUNCE_MS = 150
"""The "auto" debounce with a remote engine, or a model shared over TCP: a typist's keys
come 80-200 ms apart, so a burst of typing costs the shared engine nothing."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    enabled: bool = True
    model: str | None = None
    """Local directory or hub id; None (on the wire: "embedded") is SmolLM2-135M."""
    device: str = "auto"
    dtype: str = "auto"
    allow_downloads: bool = False
    """Fetch a hub id missing from the local hub cache from huggingface.co; off, such a model
    fails at once with a message saying so (`HF_HUB_OFFLINE`, when set, overrides this)."""
    max_new_tokens: int = 128
    context_window: int | None = None
    """Tokens of prompt + completion; None ("auto") takes the model's own (StarCoder: 8192)."""
    temperature: float = 0.0
    top_p: float = 0.95
    debounce_ms: int | None = None
    """Milliseconds a request waits for the next keystroke before it reaches the model; None
    ("auto") is `debounce`'s choice by engine."""
    fim: bool = True
    fim_template: str | None = None
    """Template name from `fim.TEMPLATES`; None ("auto") detects it from the tokenizer."""
    prefix_share: float = 0.75
    languages: tuple[str, ...] = ("*",)
    """Language ids to complete in; "*" is all, "!id" excludes one."""
    token_healing: bool = True
    """Complete from a clean token boundary when the cursor is mid-token (engine/healing.py)."""
    heal_indentation: str | PerLanguage = "free"
    """How healing treats a last token of blanks: "free", "keep" (re-spelled at the same
    width, code right after) or "skip" (indentation is not healed); `healing.INDENTATION`.
    "free" (healed like any token, as before this setting) measured best or equal both on
    `eval nextline` and on blank lines after a header, where "skip" made the model
    repeat the header (docs/quality.md). Per language: {"rust": "skip", "*": "free"}."""
    repetition_stop: bool | PerLanguage = True
    """End a generation whose line ends in a loop (`1. 1. 1. 1.`) instead of running to
    `max_new_tokens` (engine/stopping.py). Per language: {"python": false, "*": true}."""
    leading_line_break: str | PerLanguage = "forbid"
    """One-line completions where the rest of the cursor line is empty, when the model's
    first token would break the line (an empty answer): "allow" it, "forbid" it (its best
    token on this line comes instead), or on a blank line go on to the "nextLine" with
    content and show that. Per language, as above."""
    kv_reuse: bool = True
    """Resume from the kept KV cache of a recent prompt sharing a prefix (engine/kv_reuse.py)."""
    prompt_lookup: int = 4
    """Greedy completions guess up to this many tokens from the text itself and check them in
    one forward pass (engine/speculation.py): the same answers in fewer steps; 0 is off.
    4: on the embedded model on a 2-core CPU (bfloat16, 2,000-token prompts), 0.61 forward
    passes a token and 1.29x decode speed; 2 gained as much (docs/benchmarks.md)."""
    draft_model: str = ""
    """A small model sharing the model's tokenizer that proposes tokens for the model to check
    (bigcode/tiny_starcoder for StarCoder): a local path or hub id loaded like `model`; ""
    is none."""
    attention: str = "auto"
    """"sdpa" or "eager" attention; "auto" is SDPA where the model supports it."""
    static_cache: bool = False
    """CUDA: preallocated KV caches (engine/acceleration.py); ignored elsewhere."""
    compile: bool = False
    """CUDA: torch.compile of the decode step, with a static cache; ignored elsewhere."""
    cpu_weights: str = "auto"
    """A CPU in float32: "int8" linear layers (faster, answers far from float32's: an
    opt-in to measure), "float" as loaded; "auto" is float (engine/quantize.py)."""
    cross_file_context: bool = True
    """Show the model the other open documents' chunks related to the cursor (crossfile.py)."""
    prefetch: bool = True
    """After an accepted suggestion, compute the next completion before the editor asks
    (prefetch.py)."""
    warm_on_focus: bool = True
    """When the editor focuses a document (`starcoder/didFocus`), prefill the prompt at its
    cursor in the background, so the first pause there resumes from the KV cache
    (completion/warm.py); only the in-process model."""
    decode_budget_ms: int = 400
    """Automatic multi-line completions: once this many milliseconds have passed since the
    first generated token, stop at the next line end (complete lines only); 0 is off. 400:
    on a float32 CPU the typing replay's pauses with a suggestion went 65% -> 70% (seed 0)
    and, with the other issue-17 defaults, 30% -> 41% (seed 1); docs/benchmarks.md."""
    keep_typed_generation: bool = True
    """When the user types what the running generation is writing, keep it running and
    answer the next keystrokes' requests from it instead of starting over; it is cancelled
    at the first token that differs from the typing (completion/inflight.py)."""
    next_line_ahead: bool = True
    """A kept one-line generation at the end of a line goes on to write the next line
    while the user types this one, so the suggestion after Enter is often ready at once
    (completion/inflight.py); only with `keep_typed_generation`."""
    excluded_files: tuple[str, ...] = ()
    """Glob patterns of files never completed nor used as context, added to the built-in
    deny list (`exclusions.BUILT_IN`: `.env`, private keys, credential files...)."""
    max_suggestions: int = 3
    """Choices for an explicitly invoked inline completion (automatic ones get one)."""
    multiline: str = "auto"
    """"auto" lets the trigger choose one line or a block (trigger.py); "always" / "never"."""
    postprocess: bool = True
    """False returns the model's text as generated (cut only by the engine's stop strings):
    the raw baseline that `starcoder-ls eval` measures the filters against."""
    disabled_filters: tuple[str, ...] = ()
    """Post-processing filters to skip, by name (`postprocess.FILTERS`)."""
    backend: str = "local"
    """"local" runs the model in this process; "openai", "tgi" or "ollama" ask a serving
    engine over HTTP (engine/remote.py), and `model` then only names a tokenizer."""
    endpoint: str = ""
    """The remote engine's base URL as its docs give it; "" is its default on this machine."""
    remote_model: str = ""
    """The model name the remote engine expects; "" lets an OpenAI-compatible one choose."""
    api_key_env: str = "STARCODER_API_KEY"
    """Environment variable holding the remote engine's bearer token (never logged)."""
    ca_bundle: str = ""
    """PEM file of the CA that signed the remote engine's certificate; "" is the system's."""
    connect_timeout_ms: int = 3000
    read_timeout_ms: int = 30000
    """Longest silence of a remote engine within a response."""

    def for_language(self, name: str, language_id: str) -> Any:
        """A per-language setting's value for `language_id`: its own entry, else "*", else
        the default."""
        value = getattr(self, name)
        if not _is_per_language(value):
            return value
        chosen = dict(value)
        if language_id in chosen:
            return chosen[language_id]
        return chosen.get("*", _DEFAULTS[name])

    def language_enabled(self, language_id: str) -> bool:
        if f"!{language_id}" in self.languages:
            return False
        return "*" in self.languages or language_id in self.languages

    @property
    def debounce(self) -> int:
        """`debounce_ms` in effect. "auto": none for the in-process model, whose superseded
        call stops at its next token having kept its prefill for the next request (waiting
        would only delay a pause's suggestion: `bench replay` in docs/benchmarks.md);
        `REMOTE_DEBOUNCE_MS` for a remote engine, where every request costs a server
        shared with others (and over TCP, tcp.py)."""
        if self.debounce_ms is not None:
            return self.debounce_ms
        return 0 if self.backend == "local" else REMOTE_DEBOUNCE_MS

    @property
    def model_key(self) -> tuple[Any, ...]:
        """The fields that need the model reloaded when they change."""
        key = (
            self.backend,
            self.model,
            self.fim_template,
            self.context_window,
            self.allow_downloads,
        )
        if self.backend == "local":
            return (
                *key,
                self.device,
                self.dtype,
                self.draft_model,
                self.attention,
                self.static_cache,
                self.compile,
                self.cpu_weights,
            )
        return (
            *key,
            self.endpoint,
            self.remote_model,
            self.api_key_env,
            self.ca_bundle,
            self.connect_timeout_ms,
            self.read_timeout_ms,
        )


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}
assert set(CHECKS) == set(_DEFAULTS), "every setting has its check, and only they"


def engine_settings(settings: Settings) -> EngineSettings:
    """The fields of `settings` that decide a load, for the engine (which never sees the
    server's `Settings`)."""
    return EngineSettings(
        **{f.name: getattr(settings, f.name) for f in dataclasses.fields(EngineSettings)}
    )


def _is_per_language(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, tuple) for v in value)


@dataclass(frozen=True)
class MergeResult:
    settings: Settings
    errors: list[str] = field(default_factory=list)
    """One message per problem, quoting the value as written: for the user to see."""
    logged: list[str] = field(default_factory=list)
    """The same problems without the values (an endpoint or a model name can be private,
    and a value typed into the wrong field can be a key): for the log."""


def unwrap(options: Any) -> Any:
    """Accept both `{"starcoder": {...}}` (VS Code style sections) and a flat object."""
    if isinstance(options, Mapping) and isinstance(options.get("starcoder"), Mapping):
        return options["starcoder"]
    return options


def merge(current: Settings, options: Any) -> MergeResult:
    """Apply client options (camelCase or snake_case keys) on top of `current`."""
    options = unwrap(options)
    if options is None:
        return MergeResult(current)
    if not isinstance(options, Mapping):
        problem = "starcoder settings must be an object"
        return MergeResult(current, [problem], [problem])
    changes: dict[str, Any] = {}
    errors: list[str] = []
    logged: list[str] = []
    for key, value in options.items():
        name = BY_WIRE_NAME.get(key, key if key in CHECKS else None)
        if name is None:
            errors.append(f"unknown setting starcoder.{key}")
            logged.append(errors[-1])
            continue
        if value is None:
            continue  # null means "leave as it is": editors send unset settings as null
        try:
            changes[name] = CHECKS[name](value)
        except Exception as exc:
            # Any failure of a check (not only the ones it foresaw) is this field's problem:
            # the other fields still apply and the model still loads.
            reason = str(exc) if isinstance(exc, Invalid) else "is not a valid value"
            old = getattr(current, name)
            if name == "endpoint":  # a gateway's password, even in a rejected URL
                value, old = _masked(value), _masked(old)
            errors.append(
                f"invalid setting starcoder.{camel(name)} = {_show(value)}: {reason};"
                f" keeping {old!r}"
            )
            logged.append(
                f"invalid setting starcoder.{camel(name)} (value not logged): {reason};"
                " keeping the current value"
            )
    return MergeResult(dataclasses.replace(current, **changes), errors, logged)


def _masked(value: Any) -> Any:
    return masked_url(value) if isinstance(value, str) else value


def _show(value: Any, limit: int = 80) -> str:
    """The value as the user wrote it, cut short: a message must stay one readable line."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe() -> list[tuple[str, Any, str]]:
    """(wire name, default, type) of every setting, for `--help` and the README."""
    defaults = Settings()
    return [
        (camel(f.name), getattr(defaults, f.name), str(f.type))
        for f in dataclasses.fields(Settings)
    ]
