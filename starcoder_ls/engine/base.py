"""The contract between the completion pipeline and whatever runs the model.

Nothing here imports torch: the server, the scheduler and the tests talk to
engines through these plain types only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starcoder_ls.engine.fim import FimTemplate

ProgressCallback = Callable[[str, int | None], None]
"""Called with a human-readable message and a percentage (or None) while loading."""

TextCallback = Callable[[str], None]
"""`generate(on_text=...)`: the first choice's text so far, after each decode step."""


class EngineError(Exception):
    """Every failure of an engine: what happened (`str(exc)`, the words the user sees),
    whether asking again may work (`retry`) and, for an engine that is down, after how
    long (`retry_after_s`). What the user sees of it is decided in one place, above the
    engine (completion/failures.py)."""

    def __init__(
        self, message: str, *, retry: bool = True, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.retry = retry
        """False when the same call cannot work until something changes (a model that
        is not there, a server refusing the request)."""
        self.retry_after_s = retry_after_s
        """Seconds before the engine is worth asking again (a growing back-off, or the
        server's own `Retry-After`); None when that is not the question (an error of
        this call alone, such as running out of memory on its prompt)."""


@dataclass(frozen=True, kw_only=True)
class GenerationParams:
    max_new_tokens: int = 128
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    """Generation ends as soon as the decoded text contains one of these; it is cut before it."""
    n: int = 1
    """Number of choices to return (sampled when n > 1 and temperature > 0)."""
    seed: int | None = None
    token_healing: bool = True
    """Take back the prompt's last token and make the completion re-spell it (healing.py)."""
    kv_reuse: bool = True
    """Start from the kept KV cache of an earlier prompt sharing a prefix (kv_reuse.py);
    the same answers, less prefill. Engines without a local model ignore it."""
    prompt_lookup: int = 0
    """Greedy calls guess up to this many tokens from the prompt's own text and check
    them in one forward pass (engine/speculation.py); 0 is off. The same answers in fewer
    steps; sampled calls and engines without a local model ignore it."""
    heal_indentation: str = "free"
    """How healing treats a last token of blanks: "free", "keep" or "skip"
    (`healing.INDENTATION`)."""
    repetition_stop: bool = False
    """End a choice whose line ends in a loop (`stopping.RepetitionCriteria`)."""
    no_leading_line_break: bool = False
    """Until a choice has written more than blanks, it may not break the line (one-line
    completions where the rest of the line is empty). Engines without a local model
    ignore it."""
    stop_after_blank_start: bool = False
    """Stop strings are not looked for in the blank text a choice starts with: a one-line
    completion on a blank line goes on to the first line with content. Engines without a
    local model ignore it (the serving engine applies the stops)."""
    line_ahead: bool = False
    """Stop strings count only after the choice's first line end and the blanks after it:
    a one-line call goes on to write the next line too (`stopping.stops_from`), for the
    request that comes after Enter; whoever asked for one line reads the first
    (`stopping.first_line`). Engines without a local model ignore it and stop at the
    first line."""
    decode_budget_ms: int = 0
    """Once this many milliseconds have passed since the first generated token, a choice
    ends at its next line end (after it has written more than blanks), the line break
    and what follows it left out ("budget"): the complete lines that are ready, never a
    cut one. 0 is off (`stopping.DecodeBudgetCriteria`; remote engines: the stream is
    closed there)."""


@dataclass(frozen=True, kw_only=True)
class Generation:
    text: str
    """Decoded completion, without the prompt and without the stop string or end tokens."""
    tokens: int
    """How many tokens were generated for this choice."""
    stop_reason: str
    """One of "eos", "stop", "repetition" (a loop, `stopping.RepetitionCriteria`), "budget"
    (`GenerationParams.decode_budget_ms`), "length" or "cancelled". A failure is never a
    stop reason: the engine raises `EngineError`."""


@dataclass(frozen=True, kw_only=True)
class GenerationResult:
    choices: tuple[Generation, ...]
    prompt_tokens: int
    generate_ms: float
    cancelled: bool = False
    """Not a whole answer: cancelled on the way."""
    prefilled_tokens: int | None = None
    """Prompt tokens actually run through the model: `prompt_tokens` less those whose
    keys and values came from a kept cache. None where the engine cannot tell."""


@dataclass(frozen=True, kw_only=True)
class EngineInfo:
    model: str
    template: FimTemplate
    context_window: int
    device: str = "cpu"
    dtype: str = "float32"
    extra: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """A loaded model. All methods are called from the engine's own worker thread, unless
    the engine says `runs_on_loop = True` (a remote engine: I/O, not compute): then
    `generate` is a coroutine, `async def generate(prompt, params, *, prompt_ids=None,
    on_token=None, on_text=None)` without `cancel`, awaited on the event loop, and
    cancelling its task stops it at once (`asyncio.CancelledError` goes on up);
    `count_tokens` and `encode` stay plain calls, and `aclose()` is awaited where a loop
    runs. Local engines leave `runs_on_loop` out (False).

    Engines that tokenize locally also offer `encode(text) -> list[int]`, the ids
    `generate` would feed for `text`; the prompt builder then hands the final prompt's
    ids to `generate(prompt_ids=...)` so that it is tokenized once.

    Engines that report text as it comes say `streams_text = True` and take `on_text`;
    the others are never handed it (getattr(engine, "streams_text", False)).
    """

    info: EngineInfo

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
        on_text: TextCallback | None = None,
    ) -> GenerationResult:
        """Stops within one decode step of `cancel` being set.

        `prompt_ids` are `prompt`'s ids from the engine's own `encode`, when the caller
        has them; an engine without a local tokenizer ignores them.

        `on_token(n)` runs on the engine thread after each decode step with the number
        of tokens generated so far (progress, and tests that cancel mid-generation).
        `on_text(text)` (engines with `streams_text`) then runs with the first choice's
        text so far, as its `Generation.text` would start (healed token re-spelled, stop
        strings not cut yet), whenever a step added to it: a caller can tell at the first
        differing token that the generation is not the one it wants, and set `cancel`
        from inside the callback to stop at that same step.
        """
        ...

    def close(self) -> None: ...
