"""What decides a load: the engine's own settings, apart from the server's.

The server's `config.Settings` holds everything an editor can set; an engine needs only
these fields, and `config.engine_settings` copies them. Names and defaults are those of
`Settings`, so that the copy is field by field and a newcomer finds each one documented
there (`starcoder.<camelCase name>` on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    backend: str = "local"
    """"local" runs the model in this process; "openai", "tgi" or "ollama" ask a serving
    engine over HTTP (engine/remote/)."""
    model: str | None = None
    """Local directory or hub id; None is the embedded SmolLM2-135M. With a remote backend
    it only names a tokenizer that counts prompt tokens exactly."""
    fim_template: str | None = None
    """Template name from `fim.TEMPLATES`; None detects it."""
    context_window: int | None = None
    """Tokens of prompt + completion; None takes the model's own."""
    allow_downloads: bool = False
    """Fetch a hub id missing from the hub cache from huggingface.co."""

    # The local model's.
    device: str = "auto"
    dtype: str = "auto"
    draft_model: str = ""
    """A small model proposing tokens for the model to check (speculation.py); "" is none."""
    attention: str = "auto"
    static_cache: bool = False
    compile: bool = False
    cpu_weights: str = "auto"
    """"float", "int8" (on a CPU in float32) or "auto", which is float (quantize.py)."""

    # A remote engine's.
    endpoint: str = field(default="", repr=False)
    """The engine's base URL ("" is its default on this machine); it may hold a user and
    password, so it is not in the repr."""
    remote_model: str = ""
    api_key_env: str = "STARCODER_API_KEY"
    """Environment variable holding the bearer token (the token itself is never here)."""
    ca_bundle: str = ""
    connect_timeout_ms: int = 3000
    read_timeout_ms: int = 30000
