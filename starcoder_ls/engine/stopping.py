"""Stop conditions for `model.generate`, as small callables testable without a model.

They follow transformers' `StoppingCriteria` protocol, `(input_ids, scores) -> bool
tensor of shape (batch,)`, one flag per row, so a row that is done stops while the
other choices go on. They are plain classes rather than subclasses so that this
module imports neither torch nor transformers until a criterion is actually called.
Each instance serves one `generate` call: it keeps per-call state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from starcoder_ls.text.loops import ends_in_repeated_lines, loop_start

if TYPE_CHECKING:
    import torch

_REPLACEMENT = "\ufffd"

MIN_LOOP_CHARS = 48
"""Characters a loop must span before it stops a generation, besides its five copies:
`[0, 0, 0, 0, 0]` is code, while `1. 1. 1. ` written for 48 characters is not going
anywhere (a loop left alone runs to the token limit: 128 tokens, 12 s on a CPU)."""


class Decoder(Protocol):
    def decode(self, token_ids: list[int], **kwargs: Any) -> str: ...


def decode_tokens(tokenizer: Decoder, token_ids: Sequence[int]) -> str:
    """Decode completion tokens the one way both the criteria and the result use.

    Special tokens are dropped and no "clean-up" of spaces is done: code is not prose,
    and `x .y` must stay `x .y`.
    """
    return tokenizer.decode(
        list(token_ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
    )


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """`text` up to the earliest stop string (or end token written as text), and that stop."""
    best_at, best = len(text), None
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop)
        if at != -1 and (at < best_at or (at == best_at and best and len(stop) > len(best))):
            best_at, best = at, stop
    return text[:best_at], best


def blank_start(text: str, start: int = 0) -> int:
    """Where `text`'s content begins after the blanks that follow `start` (its end when
    there is none yet)."""
    rest = text[start:]
    return start + len(rest) - len(rest.lstrip())


def stops_from(
    text: str, skip: int = 0, *, after_blank_start: bool = False, line_ahead: bool = False
) -> int | None:
    """Where stop strings start to count in a choice's `text`: after `skip` (a healed
    token's re-spelling), after the blanks the choice starts with (`after_blank_start`),
    and with `line_ahead` after its first line end and the blanks that follow it; None
    while that first line is not complete (no stop counts yet)."""
    start = blank_start(text, skip) if after_blank_start else skip
    if not line_ahead:
        return start
    end = text.find("\n", start)
    return None if end == -1 else blank_start(text, end + 1)


def cut_from(text: str, stops: Sequence[str], start: int | None) -> tuple[str, str | None]:
    """`text` cut at its earliest stop from `start` on (`stops_from`; None: no stop counts
    yet), and that stop: how every engine ends a choice's text."""
    if start is None:
        return text, None
    body, stop = cut_at_stop(text[start:], stops)
    return text[:start] + body, stop


def first_line(text: str, stops: Sequence[str], *, after_blank_start: bool = False) -> str | None:
    """A one-line call's answer in `text`, the text of a call that writes a line ahead
    (`GenerationParams.line_ahead`): as far as the first stop, cut as the call without
    the line ahead would have been; None while no stop has come."""
    start = stops_from(text, after_blank_start=after_blank_start)
    line, stop = cut_from(text, stops, start)
    return None if stop is None else line


def _row_flags(input_ids: torch.Tensor, flags: Sequence[bool]) -> torch.Tensor:
    """One flag per row, on the ids' device. Nearly every step stops no row: that answer
    is made once per batch size and device, not copied to the device at every step."""
    import torch

    if not any(flags):
        return _none_stopped(len(flags), input_ids.device)
    return torch.tensor(list(flags), dtype=torch.bool, device=input_ids.device)


@lru_cache(maxsize=16)
def _none_stopped(rows: int, device: torch.device) -> torch.Tensor:
    import torch

    return torch.zeros(rows, dtype=torch.bool, device=device)


class CancelCriteria:
    """Stops every row once the request's cancel flag is set; checked after each token.

    `on_token(generated_so_far)` runs first, so a flag set from inside it is seen at
    the same step. `cancelled_at` is how many tokens each row had when it stopped.
    """

    def __init__(
        self,
        cancel: threading.Event,
        *,
        prompt_length: int,
        on_token: Callable[[int], None] | None = None,
    ) -> None:
        self.cancel = cancel
        self.prompt_length = prompt_length
        self.on_token = on_token
        self.cancelled_at: int | None = None

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        generated = input_ids.shape[1] - self.prompt_length
        if self.on_token is not None:
            self.on_token(generated)
        stop = self.cancel.is_set()
        if stop and self.cancelled_at is None:
            self.cancelled_at = generated
        return _row_flags(input_ids, [stop] * input_ids.shape[0])


@dataclass
class _RowText:
    """Text decoded so far for one row, grown by re-decoding only a short tail.

    Decoding token by token breaks multi-byte characters and drops the leading space
    some tokenizers attach to a word, so each step decodes from one token back
    (`prefix_offset`) and keeps only what follows the previous decode. A trailing
    U+FFFD means the character is still incomplete: wait for the next token.
    """

    text: str = ""
    prefix_offset: int = 0
    read_offset: int = 0

    def extend(self, tokenizer: Decoder, tail: list[int], generated: int) -> int:
        """Feed the row's tokens from `prefix_offset` on; return where new text starts."""
        start = len(self.text)
        before = decode_tokens(tokenizer, tail[: self.read_offset - self.prefix_offset])
        after = decode_tokens(tokenizer, tail)
        if len(after) > len(before) and not after.endswith(_REPLACEMENT):
            self.text += after[len(before) :]
            self.prefix_offset, self.read_offset = self.read_offset, generated
        return start


class _TextCriteria:
    """A stopping criterion on each row's generated text, decoded incrementally: only the
    completion (never the prompt), and only its undecoded tail at each step, so a step
    costs the same at token 5 and at token 500. `_stops(text, start)` says whether the
    text, new from `start` on, ends the row; `stopped_at[row]` is its token count then."""

    def __init__(self, tokenizer: Decoder, *, prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.stopped_at: dict[int, int] = {}
        self._rows: list[_RowText] = []

    def _stops(self, text: str, start: int) -> bool:
        raise NotImplementedError

    def _watching(self) -> bool:
        """False when no text could stop a row: then nothing is decoded at all."""
        return True

    def _stopped(self, row: int) -> None:
        """`_stops` just ended `row`."""

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        batch = input_ids.shape[0]
        generated = input_ids.shape[1] - self.prompt_length
        if not self._rows:
            self._rows = [_RowText() for _ in range(batch)]
        active = [row for row in range(batch) if row not in self.stopped_at]
        if self._watching() and active and generated > 0:
            first = min(self._rows[row].prefix_offset for row in active)
            # One device-to-host copy for all rows, of the short undecoded tail only.
            tails = input_ids[:, self.prompt_length + first :].tolist()
            for row in active:
                state = self._rows[row]
                start = state.extend(
                    self.tokenizer, tails[row][state.prefix_offset - first :], generated
                )
                if self._stops(state.text, start):
                    self.stopped_at[row] = generated
                    self._stopped(row)
        return _row_flags(input_ids, [row in self.stopped_at for row in range(batch)])

    def text(self, row: int) -> str:
        return self._rows[row].text if row < len(self._rows) else ""


class TextProgress(_TextCriteria):
    """Never stops a row: hands the first row's text so far to `on_text` whenever a step
    added to it, decoding only the new tail. Placed before `CancelCriteria`, so a cancel
    set from inside `on_text` stops that same step.
    """

    def __init__(
        self, tokenizer: Decoder, on_text: Callable[[str], None], *, prompt_length: int
    ) -> None:
        super().__init__(tokenizer, prompt_length=prompt_length)
        self.on_text = on_text

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        super().__call__(input_ids[:1], scores, **kwargs)
        return _row_flags(input_ids, [False] * input_ids.shape[0])

    def _stops(self, text: str, start: int) -> bool:
        if len(text) > start:
            self.on_text(text)
        return False


class StopStringCriteria(_TextCriteria):
    """Stops a row as soon as its generated text contains one of `stops`.

    Only the completion is decoded (never the prompt), incrementally, and only the
    new text plus a stop's length of overlap is searched, so a step costs the same
    at token 5 and at token 500. `stopped_at[row]` is the row's token count then.
    """

    def __init__(
        self,
        tokenizer: Decoder,
        stops: Sequence[str],
        *,
        prompt_length: int,
        skip_chars: int = 0,
        after_blank_start: bool = False,
        line_ahead: bool = False,
    ) -> None:
        super().__init__(tokenizer, prompt_length=prompt_length)
        self.stops = tuple(s for s in stops if s)
        self.skip_chars = skip_chars
        """Text that is not the completion yet (a healed token being re-spelled)."""
        self.after_blank_start = after_blank_start
        """Stops count only once the completion has written more than blanks."""
        self.line_ahead = line_ahead
        """Stops count only after the first line end (`stops_from`)."""
        self._overlap = max((len(s) for s in self.stops), default=1) - 1

    def _watching(self) -> bool:
        return bool(self.stops)

    def _stops(self, text: str, start: int) -> bool:
        skip = stops_from(
            text,
            self.skip_chars,
            after_blank_start=self.after_blank_start,
            line_ahead=self.line_ahead,
        )
        if skip is None:
            return False
        window = text[max(skip, start - self._overlap) :]
        return any(stop in window for stop in self.stops)


def ends_in_loop(text: str) -> bool:
    """Whether `text` ends in a loop long enough to stop for: its last line in a fragment
    repeated, or its last whole lines in a block of lines repeated."""
    line = text[text.rfind("\n") + 1 :].rstrip()
    if len(line) >= MIN_LOOP_CHARS and loop_start(line, min_chars=MIN_LOOP_CHARS) is not None:
        return True
    return ends_in_repeated_lines(text, min_chars=MIN_LOOP_CHARS)


class RepetitionCriteria(_TextCriteria):
    """Stops a row whose current line ends in a loop (`text.loops.loop_start`) spanning
    `MIN_LOOP_CHARS` or more: `1. 1. 1. 1.`, `f(g(x), f(g(x), f(g(x), `; or whose whole
    lines end in one block of lines written three times (`text.loops`).

    Generation would otherwise run on to the token limit, and `remove_repetitive_lines`
    cuts such a line anyway, at the loop's start; the same rule decides both. Only the
    line being written is read, so a step costs the same at token 5 and at token 500.
    `stopped_at[row]` is the row's token count then.
    """

    def __init__(self, tokenizer: Decoder, *, prompt_length: int) -> None:
        super().__init__(tokenizer, prompt_length=prompt_length)

    def _stops(self, text: str, start: int) -> bool:
        return len(text) > start and ends_in_loop(text)


def line_end_after(text: str, start: int, skip: int = 0) -> int | None:
    """Where `text` first ends a line from `start` on (or right before it: a line that
    ended with the previous text is complete too), once it has written more than blanks
    after `skip`; None when no line ends there yet."""
    content = blank_start(text, skip)
    if content >= len(text):
        return None
    at = text.find("\n", max(start - 1, content))
    return None if at == -1 else at


class DecodeBudgetCriteria(_TextCriteria):
    """Stops a row at its first line end once `budget_ms` have passed since the first
    generated token (llama.cpp's `t_max_predict_ms`): the complete lines written so far
    are shown, the one being written is finished first, never cut.

    `cut_at[row]` is where the row's text (as `text(row)` reads it) ends: at that line
    break, which is left out with whatever the same token wrote after it. The clock is
    read once a step; `clock` is for tests.
    """

    def __init__(
        self,
        tokenizer: Decoder,
        budget_ms: int,
        *,
        prompt_length: int,
        skip_chars: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(tokenizer, prompt_length=prompt_length)
        self.budget_s = budget_ms / 1000
        self.skip_chars = skip_chars
        """Text that is not the completion yet (a healed token being re-spelled)."""
        self.cut_at: dict[int, int] = {}
        self._clock = clock
        self._first: float | None = None
        self._over = False
        self._cut = 0

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        if input_ids.shape[1] > self.prompt_length:
            now = self._clock()
            if self._first is None:
                self._first = now
            self._over = now - self._first >= self.budget_s
        return super().__call__(input_ids, scores, **kwargs)

    def _stops(self, text: str, start: int) -> bool:
        if not self._over:
            return False
        at = line_end_after(text, start, self.skip_chars)
        if at is None:
            return False
        self._cut = at
        return True

    def _stopped(self, row: int) -> None:
        self.cut_at[row] = self._cut
