"""Reading a model and its tokenizer from where `weights.resolve_source` found them, and
all a `LocalEngine` is built from (`load_local`).

A GGUF is converted on its first load and the converted copy is read from then on; a
draft model is read the same way and refused unless its vocabulary is the model's.
Runs on the worker thread; torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from starcoder_ls.engine import models, quantize, single_query, speculation, weights
from starcoder_ls.engine.acceleration import Acceleration
from starcoder_ls.engine.base import EngineError, EngineInfo, ProgressCallback
from starcoder_ls.engine.placement import (
    Placement,
    cuda_device_map,
    describe_device,
    dtype_name,
    load_errors,
    resolve_placement,
    weights_bytes,
)
from starcoder_ls.engine.settings import EngineSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalParts:
    """What a `LocalEngine` is built from."""

    model: Any
    tokenizer: Any
    info: EngineInfo
    draft: speculation.Draft | None
    acceleration: Acceleration
    """What applies on the model's device (`Acceleration.on`)."""


def load_local(settings: EngineSettings, report: ProgressCallback) -> LocalParts:
    """Read the model (and its draft) the settings name; EngineError with a message for
    the user. The checks that need no weights (names, device, template) come first: a
    typo should not cost a minute of loading."""
    started = time.perf_counter()
    try:
        wanted = Acceleration(
            attention=settings.attention,
            static_cache=settings.static_cache,
            compile=settings.compile,
        )
    except ValueError as exc:
        raise EngineError(str(exc), retry=False) from None
    if settings.cpu_weights not in quantize.CPU_WEIGHTS:
        names = ", ".join(quantize.CPU_WEIGHTS)
        raise EngineError(f"cpuWeights must be one of {names}", retry=False)
    allow = settings.allow_downloads
    source = weights.resolve_source(settings.model, allow_downloads=allow)
    drafting = None
    if settings.draft_model:
        drafting = weights.resolve_source(settings.draft_model, allow_downloads=allow)
    placement = resolve_placement(settings.device, settings.dtype)
    template = settings.fim_template
    chosen = models.choose_template(template, None, source.name) if template else None
    with weights.hub_access(source):
        tokenizer, loaded = load_converted_or(source, placement, report, wanted)
    draft = None
    if drafting is not None:
        main = Main(source.name, tokenizer, loaded)
        draft = load_draft(drafting, main, placement, report, wanted)
    smaller = quantize.wanted(settings.cpu_weights, placement.device, loaded.dtype)
    if smaller:
        report(f"Preparing {smaller} weights", 92)
        for model in (loaded, draft.model if draft is not None else None):
            if model is not None:
                quantize.convert(model, smaller)
    report("Preparing the prompt template", 95)
    info = EngineInfo(
        model=source.name,
        template=chosen or models.choose_template(None, tokenizer, source.name),
        context_window=models.context_window(
            settings.context_window, loaded.config, tokenizer, source.name
        ),
        device=describe_device(loaded),
        dtype=dtype_name(placement.dtype),
        extra={"load_ms": f"{(time.perf_counter() - started) * 1000.0:.0f}"},
    )
    if smaller:
        info.extra["weights"] = smaller
    if draft is not None and drafting is not None:
        info.extra["draft"] = drafting.name
        draft.pool.max_tokens = 2 * info.context_window
    return LocalParts(loaded, tokenizer, info, draft, wanted.on(placement.device))


@dataclass(frozen=True)
class Main:
    """The model a draft works for."""

    name: str
    tokenizer: Any
    model: Any


def load_draft(
    source: weights.ModelSource,
    main: Main,
    placement: Placement,
    report: ProgressCallback,
    acceleration: Acceleration,
) -> speculation.Draft:
    """The draft model, refused unless it reads and writes the main model's token ids."""

    def quiet(message: str, percent: int | None) -> None:
        report(f"Draft model: {message}", 90)

    with weights.hub_access(source):
        draft_tokenizer, loaded = load_converted_or(source, placement, quiet, acceleration)
    problem = speculation.same_vocabulary(main.tokenizer, draft_tokenizer)
    if problem is not None:
        raise EngineError(
            f"cannot use {source.name} as the draft model of {main.name}: {problem}",
            retry=False,
        )
    vocab = min(_vocab_size(main.model), _vocab_size(loaded))
    return speculation.Draft(model=loaded, vocab=vocab)


def _vocab_size(model: Any) -> int:
    head = model.get_output_embeddings()
    rows = getattr(head, "out_features", None)  # an int8 head's weight is a method
    return int(rows if rows is not None else head.weight.shape[0])


def load_converted_or(
    source: weights.ModelSource,
    placement: Placement,
    report: ProgressCallback,
    acceleration: Acceleration | None = None,
) -> tuple[Any, Any]:
    """Load `source`, or for a GGUF the converted copy made on its first load; on a CPU in
    16-bit floats, its decode steps' attention packed (single_query.py)."""
    tokenizer, loaded = _load_converted_or(source, placement, report, acceleration)
    if single_query.adopt(loaded):
        log.info("%s: single-query attention packed by key/value head", source.name)
    return tokenizer, loaded


def _load_converted_or(
    source: weights.ModelSource,
    placement: Placement,
    report: ProgressCallback,
    acceleration: Acceleration | None = None,
) -> tuple[Any, Any]:
    import transformers

    converted = weights.converted_dir(source, f"transformers-{transformers.__version__}")
    if converted is not None:
        # Held while loading, so that no other process deletes the copy under us.
        with weights.reading_converted(converted) as usable:
            if usable:
                try:
                    copy = weights.ModelSource(source.name, str(converted))
                    return _load_pair(copy, placement, report, acceleration)
                except EngineError as exc:
                    log.warning("ignoring the converted copy in %s: %s", converted, exc)
    if source.kwargs.get("gguf_file"):
        report(f"Converting {source.name} from GGUF (only the first time)", 10)
    if converted is None or placement.device != "cpu":
        return _load_pair(source, placement, report, acceleration)
    # The copy is kept in float32, whatever this load wants, so that a later load in
    # float32 gets the GGUF's values exactly; a smaller dtype is a cast of it.
    import torch

    wide = dataclasses.replace(placement, dtype=torch.float32)
    tokenizer, loaded = _load_pair(source, wide, report, acceleration)
    weights.save_converted(loaded, tokenizer, converted)
    if loaded.dtype != placement.dtype:
        loaded = loaded.to(placement.dtype)
    return tokenizer, loaded


def _load_pair(
    source: weights.ModelSource,
    placement: Placement,
    report: ProgressCallback,
    acceleration: Acceleration | None = None,
) -> tuple[Any, Any]:
    report(f"Loading tokenizer of {source.name}", 15)
    with load_errors(source):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source.location, **source.kwargs)
    device_map: Any = None
    needed = None
    if placement.device.startswith("cuda"):
        needed = weights_bytes(source, placement.dtype)
        device_map = cuda_device_map(placement.device, needed)
    elif placement.device == "mps":
        device_map = {"": "mps"}
    report(f"Loading {source.name} on {placement.device} in {dtype_name(placement.dtype)}", 30)
    with load_errors(source, placement, needed):
        from transformers import AutoModelForCausalLM

        loaded = AutoModelForCausalLM.from_pretrained(
            source.location,
            dtype=placement.dtype,
            device_map=device_map,
            **(acceleration or Acceleration()).load_kwargs(),
            **source.kwargs,
        )
    return tokenizer, loaded.eval()
