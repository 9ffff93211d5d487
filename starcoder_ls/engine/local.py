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

from starcoder_ls.engine import kv_reuse, models, speculation
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
)
from starcoder_ls.engine.loading import load_local
from starcoder_ls.engine.local_call import Checks, Plan, choice_of
from starcoder_ls.engine.placement import (
    free_memory,
    is_oom,
)
from starcoder_ls.engine.settings import EngineSettings
from starcoder_ls.engine.tokens import eos_ids, leading_bos

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import torch


class LocalEngine:
    """The Engine protocol over `model.generate`. Call it from the worker thread only."""

    streams_text = True
    """`generate` takes `on_text` (base.Engine)."""

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
        parts = load_local(settings, report)
        engine = cls(
            model=parts.model,
            tokenizer=parts.tokenizer,
            info=parts.info,
            draft=parts.draft,
            acceleration=parts.acceleration,
        )
        report(f"{parts.info.model} ready on {parts.info.device}", 100)
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
        on_text: Callable[[str], None] | None = None,
    ) -> GenerationResult:
        """Greedy at temperature 0 (one choice however large `n`), else `n` samples.

        The prompt's sentinel text (`<fim_prefix>`...) must become the special ids,
        which is why special tokens are not added and never escaped. `prompt_ids`, when
        given, are `encode(prompt)` already computed (by the prompt builder).
        """
        if self._model is None:
            raise EngineError("the model was unloaded; load it again")
        started = time.perf_counter()
        plan = self._plan(prompt, params, prompt_ids)
        if cancel.is_set() or plan.max_new <= 0:
            reason = "cancelled" if cancel.is_set() else "length"
            empty = Generation(text="", tokens=0, stop_reason=reason)
            return GenerationResult(
                choices=(empty,),
                prompt_tokens=plan.prompt_tokens,
                generate_ms=_ms_since(started),
                cancelled=cancel.is_set(),
                prefilled_tokens=0,
            )
        checks = Checks.of(self._tokenizer, plan, cancel, on_token, on_text)
        if not plan.reuse:
            self._drop_caches()
        output, reused = self._run_in_memory(plan, checks)
        rows = output[:, plan.prompt_tokens :].tolist()
        choices = tuple(
            choice_of(row, tokens, plan, checks, tokenizer=self._tokenizer, eos=self._eos_ids)
            for row, tokens in enumerate(rows)
        )
        return GenerationResult(
            choices=choices,
            prompt_tokens=plan.prompt_tokens,
            generate_ms=_ms_since(started),
            cancelled=checks.cancelled,
            prefilled_tokens=plan.prompt_tokens - reused,
        )

    def _plan(
        self, prompt: str, params: GenerationParams, prompt_ids: Sequence[int] | None
    ) -> Plan:
        """The ids to feed (with the BOS, healed) and how many tokens may follow them."""
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
        max_new = self._clamp_new_tokens(len(ids), params.max_new_tokens)
        reuse = params.kv_reuse and self._reusable
        return Plan(ids=ids, params=params, max_new=max_new, removed=removed, reuse=reuse)

    def _run_in_memory(self, plan: Plan, checks: Checks) -> tuple[Any, int]:
        """`_run`, with running out of memory an EngineError the next call survives."""
        output, reused = None, 0
        try:
            output, reused = self._run(plan, checks)
        except Exception as exc:
            if not is_oom(exc):
                raise
        if output is None:
            # Outside the except block, so the traceback's frames (and tensors) are gone.
            self._drop_caches()
            free_memory()
            raise EngineError(
                f"out of memory generating {plan.max_new} tokens x {plan.rows} from a "
                f"{plan.prompt_tokens}-token prompt on {self.info.device}; "
                "use a smaller context window or fewer tokens",
                retry=True,  # a shorter prompt, or the memory others held, may fit
            ) from None
        return output, reused

    def close(self) -> None:
        """Drop the model so a replacement can use the memory."""
        self._model = None
        self._draft = None
        self.prefix_cache.clear()
        free_memory()

    def _processors(self, plan: Plan) -> list[Any]:
        """Token healing's constraint, then the one on a leading line break."""
        processors: list[Any] = []
        removed, prompt_tokens = plan.removed, plan.prompt_tokens
        if removed:
            keep = plan.params.heal_indentation == "keep"
            processors.append(
                HealingProcessor(
                    self._tokenizer, self._vocab, removed, prompt_tokens, keep_width=keep
                )
            )
        if plan.params.no_leading_line_break:
            processors.append(
                NoLeadingLineBreak(self._tokenizer, self._vocab, removed, prompt_tokens)
            )
        return processors

    def _drop_caches(self) -> None:
        self.prefix_cache.clear()
        if self._draft is not None:
            self._draft.pool.clear()

    def _run(self, plan: Plan, checks: Checks) -> tuple[Any, int]:
        """The output ids of every row, and how many prompt tokens came from a kept cache."""
        import torch

        params, ids = plan.params, plan.ids
        processors = self._processors(plan)
        device = self._input_device()
        cuda = [device.index or 0] if device.type == "cuda" else []
        with (
            torch.random.fork_rng(devices=cuda, enabled=params.seed is not None),
            torch.inference_mode(),
        ):
            cache, reused = self._cache_for(plan, device)
            if params.seed is not None:
                torch.manual_seed(params.seed)
            guesser = None if plan.sample else self._guesser(params, device)
            if guesser is not None:
                decoding = speculation.Decoding(
                    self._model, device, processors, checks.criteria, self._eos_ids
                )
                try:
                    outcome = speculation.greedy(
                        decoding, cache, ids, max_new=plan.max_new, guesser=guesser
                    )
                finally:
                    guesser.close()
                output = torch.tensor([outcome.tokens], dtype=torch.long)
            else:
                output = self._model_generate(plan, checks, processors, cache, device)
            if plan.reuse and cache is not None and plan.rows == 1:
                # Prompt and completion, for the next prompt (typing what was suggested).
                kept = int(cache.get_seq_length())
                self.prefix_cache.put(output[0, :kept].tolist(), cache)
        return output.cpu(), reused

    def _model_generate(
        self, plan: Plan, checks: Checks, processors: list[Any], cache: Any, device: Any
    ) -> Any:
        """transformers' `generate`: sampled rows, or greedy without a guesser."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        params = plan.params
        options: dict[str, Any] = {}
        if plan.sample:
            options = {"temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        config = GenerationConfig(
            max_new_tokens=plan.max_new,
            do_sample=plan.sample,
            num_return_sequences=plan.rows,
            eos_token_id=list(self._eos_ids) or None,
            pad_token_id=self._pad_id,
            use_cache=True,
            **self.acceleration.generation_kwargs(),
            **options,
        )
        input_ids = torch.tensor([plan.ids], dtype=torch.long, device=device)
        return self._model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            generation_config=config,
            stopping_criteria=StoppingCriteriaList(checks.criteria),
            logits_processor=LogitsProcessorList(processors),
            **({"cache": cache} if cache is not None else {}),
        )

    def _guesser(self, params: GenerationParams, device: Any) -> speculation.FirstOf | None:
        """Who guesses tokens for a greedy call: the prompt, then the draft; None for neither."""
        guessers: list[Any] = []
        if params.prompt_lookup > 0:
            guessers.append(speculation.PromptLookup(params.prompt_lookup))
        if self._draft is not None:
            guessers.append(speculation.DraftGuesser(self._draft, device, reuse=params.kv_reuse))
        return speculation.FirstOf(guessers) if guessers else None

    def _cache_for(self, plan: Plan, device: Any) -> tuple[Any, int]:
        """The cache `generate` starts from, and how many of `ids` it already holds.

        One row extends the kept cache in place (without reuse, a new one: the engine
        always hands one in, static when the static cache is on, unless the call would
        overflow it). Sampled rows share one prefill: all but the last token run once, in
        a single row that is kept for the next call, and the rows start from a copy
        expanded to the batch.
        """
        ids, rows, reuse = plan.ids, plan.rows, plan.reuse
        static = self._static_length
        if static is not None and len(ids) + plan.max_new > static:
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
