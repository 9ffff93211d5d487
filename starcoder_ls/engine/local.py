"""A transformers model resident on this machine (GPU when there is one).

Everything here runs on the `ModelWorker` thread: loading, tokenising and
generating. torch and transformers are imported inside the functions so that
importing the engine package stays cheap for the parts of the server that never
load a model (tests, `--help`, remote engines).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from starcoder_ls.engine import kv_reuse, models, speculation, weights
from starcoder_ls.engine.acceleration import Acceleration
from starcoder_ls.engine.base import (
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    GenerationResult,
    ProgressCallback,
)
from starcoder_ls.engine.gc_pause import paused_gc
from starcoder_ls.engine.healing import (
    HealingProcessor,
    NoLeadingLineBreak,
    Vocabulary,
    split_last_token,
    strip_healed,
)
from starcoder_ls.engine.loading import load_converted_or, load_draft
from starcoder_ls.engine.placement import (
    describe_device,
    dtype_name,
    free_memory,
    is_oom,
    resolve_placement,
)
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.engine.stopping import (
    CancelCriteria,
    RepetitionCriteria,
    StopStringCriteria,
    blank_start,
    cut_at_stop,
    decode_tokens,
)
from starcoder_ls.engine.tokens import eos_ids, leading_bos

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import torch


class LocalEngine:
    """The Engine protocol over `model.generate`. Call it from the worker thread only."""

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any,
        info: EngineInfo,
        draft: speculation.Draft | None = None,
        acceleration: Acceleration | None = None,
    ) -> None:
        """`acceleration` is what applies on the model's device (`Acceleration.on`)."""
        self._model = model
        self._tokenizer = tokenizer
        self.info = info
        vocab = tokenizer.get_vocab()
        self._eos_ids = eos_ids(model, tokenizer, vocab, info.template)
        pad = tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (self._eos_ids[0] if self._eos_ids else 0)
        self._max_positions = models.config_positions(model.config)
        self._bos = leading_bos(tokenizer)
        self._vocab = Vocabulary(tokenizer)
        self._reusable = kv_reuse.supports_reuse(model)
        self._draft = draft
        self.acceleration = acceleration or Acceleration()
        self._static_length = None
        entries = kv_reuse.MAX_ENTRIES
        if self.acceleration.static_cache:
            # Each static cache holds a whole window, however little of it is filled.
            self._static_length = min(info.context_window, self._max_positions or 1 << 30)
            entries = 2
        self.prefix_cache = kv_reuse.PrefixCache(
            max_tokens=2 * info.context_window, max_entries=entries
        )
        """Recent prompts' KV caches (kv_reuse.py); about two full prompts' worth."""

    @classmethod
    @paused_gc()  # a third of a warm load was the collector scanning new objects
    def load(
        cls, settings: EngineSettings, *, progress: ProgressCallback | None = None
    ) -> LocalEngine:
        """Load tokenizer and weights; raises EngineError with a message for the user.

        Blocks for seconds (tiny models) to minutes (StarCoder from disk to GPU).
        `settings.draft_model` ("" for none) is loaded the same way, on the same device, for
        speculative decoding (speculation.py); the GPU switches are acceleration.py's.
        """
        report = progress or (lambda message, percent: None)
        started = time.perf_counter()
        try:
            wanted = Acceleration(
                attention=settings.attention,
                static_cache=settings.static_cache,
                compile=settings.compile,
            )
        except ValueError as exc:
            raise EngineError(str(exc), retry=False) from None
        allow_downloads = settings.allow_downloads
        draft_model, template = settings.draft_model, settings.fim_template
        source = weights.resolve_source(settings.model, allow_downloads=allow_downloads)
        drafting = (
            weights.resolve_source(draft_model, allow_downloads=allow_downloads)
            if draft_model
            else None
        )
        placement = resolve_placement(settings.device, settings.dtype)
        # A typo in the template name should not cost a minute of loading first.
        chosen = models.choose_template(template, None, source.name) if template else None
        with weights.hub_access(source):
            tokenizer, loaded = load_converted_or(source, placement, report, wanted)
        draft = None
        if drafting is not None:
            draft = load_draft(drafting, source.name, tokenizer, loaded, placement, report, wanted)
        report("Preparing the prompt template", 95)
        info = EngineInfo(
            model=source.name,
            template=chosen or models.choose_template(None, tokenizer, source.name),
            context_window=models.context_window(
                settings.context_window, loaded.config, tokenizer, source.name
            ),
            device=describe_device(loaded),
            dtype=dtype_name(placement.dtype),
            extra={"load_ms": f"{_ms_since(started):.0f}"},
        )
        if draft is not None and drafting is not None:
            info.extra["draft"] = drafting.name
            draft.pool.max_tokens = 2 * info.context_window
        engine = cls(
            model=loaded,
            tokenizer=tokenizer,
            info=info,
            draft=draft,
            acceleration=wanted.on(placement.device),
        )
        report(f"{source.name} ready on {info.device}", 100)
        return engine

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        return self._model

    @property
    def draft(self) -> speculation.Draft | None:
        """The draft model proposing tokens for greedy calls, if one was loaded."""
        return self._draft

    def encode(self, text: str) -> list[int]:
        """The ids `generate` feeds for `text`: sentinel text becomes the special ids, and no
        BOS/EOS is added (generate adds the BOS where the model needs one)."""
        return self._tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> GenerationResult:
        """Greedy at temperature 0 (one choice however large `n`), else `n` samples.

        The prompt's sentinel text (`<fim_prefix>`...) must become the special ids,
        which is why special tokens are not added and never escaped. `prompt_ids`, when
        given, are `encode(prompt)` already computed (by the prompt builder).
        """
        if self._model is None:
            raise EngineError("the model was unloaded; load it again")
        started = time.perf_counter()
        ids = list(prompt_ids) if prompt_ids is not None else self.encode(prompt)
        if self._bos and ids[:1] != self._bos:
            ids = self._bos + ids
        removed = ""
        if params.token_healing:
            ids, removed = split_last_token(
                self._tokenizer, self._vocab, ids, indentation=params.heal_indentation
            )
        if not ids:
            # An empty file: start as a new document does in training, after an end token.
            ids = [self._eos_ids[0] if self._eos_ids else self._pad_id]
        prompt_tokens = len(ids)
        max_new = self._clamp_new_tokens(prompt_tokens, params.max_new_tokens)
        if cancel.is_set() or max_new <= 0:
            reason = "cancelled" if cancel.is_set() else "length"
            empty = Generation(text="", tokens=0, stop_reason=reason)
            return GenerationResult(
                choices=(empty,),
                prompt_tokens=prompt_tokens,
                generate_ms=_ms_since(started),
                cancelled=cancel.is_set(),
                prefilled_tokens=0,
            )
        sample = params.temperature > 0
        rows = max(1, params.n) if sample else 1
        # The template's end tokens are eos ids, not text: `</s>` in generated HTML is code.
        stops = params.stop
        cancel_check = CancelCriteria(cancel, prompt_length=prompt_tokens, on_token=on_token)
        stop_check = StopStringCriteria(
            self._tokenizer,
            stops,
            prompt_length=prompt_tokens,
            skip_chars=len(removed),
            after_blank_start=params.stop_after_blank_start,
        )
        criteria: list[Any] = [cancel_check, stop_check]
        repetition = None
        if params.repetition_stop:
            repetition = RepetitionCriteria(self._tokenizer, prompt_length=prompt_tokens)
            criteria.append(repetition)
        processors = self._processors(params, removed, prompt_tokens)
        reuse = params.kv_reuse and self._reusable
        if not reuse:
            self._drop_caches()
        output, reused = None, 0
        try:
            output, reused = self._run(ids, params, max_new, rows, criteria, processors, reuse)
        except Exception as exc:
            if not is_oom(exc):
                raise
        if output is None:
            # Outside the except block, so the traceback's frames (and tensors) are gone.
            self._drop_caches()
            free_memory()
            raise EngineError(
                f"out of memory generating {max_new} tokens x {rows} from a "
                f"{prompt_tokens}-token prompt on {self.info.device}; "
                "use a smaller context window or fewer tokens",
                retry=True,  # a shorter prompt, or the memory others held, may fit
            ) from None
        generated = output[:, prompt_tokens:].tolist()
        choices = []
        for row, tokens in enumerate(generated):
            choices.append(
                self._choice(row, tokens, params, removed, cancel_check, stop_check, repetition)
            )
        return GenerationResult(
            choices=tuple(choices),
            prompt_tokens=prompt_tokens,
            generate_ms=_ms_since(started),
            cancelled=cancel_check.cancelled_at is not None,
            prefilled_tokens=prompt_tokens - reused,
        )

    def close(self) -> None:
        """Drop the model so a replacement can use the memory."""
        self._model = None
        self._draft = None
        self.prefix_cache.clear()
        free_memory()

    def _processors(self, params: GenerationParams, removed: str, prompt_tokens: int) -> list:
        """Token healing's constraint, then the one on a leading line break."""
        processors: list[Any] = []
        if removed:
            keep = params.heal_indentation == "keep"
            processors.append(
                HealingProcessor(
                    self._tokenizer, self._vocab, removed, prompt_tokens, keep_width=keep
                )
            )
        if params.no_leading_line_break:
            processors.append(
                NoLeadingLineBreak(self._tokenizer, self._vocab, removed, prompt_tokens)
            )
        return processors

    def _drop_caches(self) -> None:
        self.prefix_cache.clear()
        if self._draft is not None:
            self._draft.pool.clear()

    def _run(
        self,
        ids: list[int],
        params: GenerationParams,
        max_new: int,
        rows: int,
        criteria: list,
        processors: list,
        reuse: bool,
    ) -> tuple[Any, int]:
        """The output ids of every row, and how many prompt tokens came from a kept cache."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        sample = params.temperature > 0
        options: dict[str, Any] = {}
        if sample:
            options = {"temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=sample,
            num_return_sequences=rows,
            eos_token_id=list(self._eos_ids) or None,
            pad_token_id=self._pad_id,
            use_cache=True,
            **self.acceleration.generation_kwargs(),
            **options,
        )
        device = self._input_device()
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with (
            torch.random.fork_rng(devices=cuda, enabled=params.seed is not None),
            torch.inference_mode(),
        ):
            cache, reused = self._cache_for(ids, rows, device, reuse, max_new)
            if params.seed is not None:
                torch.manual_seed(params.seed)
            guesser = None if sample else self._guesser(params, device)
            if guesser is not None:
                try:
                    outcome = speculation.greedy(
                        self._model,
                        cache,
                        ids,
                        max_new=max_new,
                        guesser=guesser,
                        processors=processors,
                        criteria=criteria,
                        eos=self._eos_ids,
                        device=device,
                    )
                finally:
                    guesser.close()
                output = torch.tensor([outcome.tokens], dtype=torch.long)
            else:
                output = self._model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=config,
                    stopping_criteria=StoppingCriteriaList(criteria),
                    logits_processor=LogitsProcessorList(processors),
                    **({"cache": cache} if cache is not None else {}),
                )
            if reuse and cache is not None and rows == 1:
                # Prompt and completion, for the next prompt (typing what was suggested).
                kept = int(cache.get_seq_length())
                self.prefix_cache.put(output[0, :kept].tolist(), cache)
        return output.cpu(), reused

    def _guesser(self, params: GenerationParams, device: Any) -> speculation.FirstOf | None:
        """Who guesses tokens for a greedy call: the prompt, then the draft; None for neither."""
        guessers: list[Any] = []
        if params.prompt_lookup > 0:
            guessers.append(speculation.PromptLookup(params.prompt_lookup))
        if self._draft is not None:
            guessers.append(speculation.DraftGuesser(self._draft, device, reuse=params.kv_reuse))
        return speculation.FirstOf(guessers) if guessers else None

    def _cache_for(
        self, ids: list[int], rows: int, device: Any, reuse: bool, max_new: int
    ) -> tuple[Any, int]:
        """The cache `generate` starts from, and how many of `ids` it already holds.

        One row extends the kept cache in place (without reuse, a new one: the engine
        always hands one in, static when the static cache is on, unless the call would
        overflow it). Sampled rows share one prefill: all but the last token run once, in
        a single row that is kept for the next call, and the rows start from a copy
        expanded to the batch.
        """
        static = self._static_length
        if static is not None and len(ids) + max_new > static:
            static = None  # longer than the window: grown like any cache, not reused
            reuse = False
        cache, reused = self.prefix_cache.take(ids) if reuse else (None, 0)
        if cache is None:
            cache = kv_reuse.new_cache(self._model, static_length=static)
        if rows == 1:
            return cache, reused
        if not reuse:
            return None, 0
        kv_reuse.prefill(self._model, cache, ids[reused:-1], device)
        self.prefix_cache.put(ids[:-1], cache)
        if int(cache.get_seq_length()) == 0:
            return None, 0
        return kv_reuse.expand(cache, rows), reused

    def _choice(
        self,
        row: int,
        tokens: list[int],
        params: GenerationParams,
        removed: str,
        cancel_check: CancelCriteria,
        stop_check: StopStringCriteria,
        repetition: RepetitionCriteria | None,
    ) -> Generation:
        """One row's text, its own token count (padding after it stopped excluded) and why."""
        # Earliest end wins; on a tie the more specific reason, hence this order.
        ends: list[tuple[int, str]] = []
        eos = next((i for i, token in enumerate(tokens) if token in self._eos_ids), None)
        if eos is not None:
            ends.append((eos + 1, "eos"))
        if row in stop_check.stopped_at:
            ends.append((stop_check.stopped_at[row], "stop"))
        if repetition is not None and row in repetition.stopped_at:
            ends.append((repetition.stopped_at[row], "repetition"))
        if cancel_check.cancelled_at is not None:
            ends.append((cancel_check.cancelled_at, "cancelled"))
        ends.append((len(tokens), "length"))
        count, reason = min(ends, key=lambda end: end[0])
        kept = tokens[: count - 1] if reason == "eos" else tokens[:count]
        text = strip_healed(decode_tokens(self._tokenizer, kept), removed)
        lead = blank_start(text) if params.stop_after_blank_start else 0
        body, stop = cut_at_stop(text[lead:], params.stop)
        text = text[:lead] + body
        if stop is not None and reason != "cancelled":
            reason = "stop"
        return Generation(text=text, tokens=count, stop_reason=reason)

    def _clamp_new_tokens(self, prompt_tokens: int, wanted: int) -> int:
        """Models with learned positions crash past them, so never generate beyond."""
        if self._max_positions is None:
            return wanted
        if prompt_tokens >= self._max_positions:
            raise EngineError(
                f"the prompt has {prompt_tokens} tokens but {self.info.model} reads at most "
                f"{self._max_positions}; lower the context window"
            )
        return min(wanted, self._max_positions - prompt_tokens)

    def _input_device(self) -> torch.device:
        import torch

        device = self._model.get_input_embeddings().weight.device
        if device.type == "meta":
            # Offloaded by accelerate: its hooks run the layer on the first GPU.
            return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
        return device


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
