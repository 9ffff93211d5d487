"""One choice of a streamed answer, built event by event, with our own stops applied.

Stop strings, the repetition stop, the decode budget and `max_new_tokens` are applied here
whatever the engine does: an engine may take only a few stop strings (TGI: 4), know no
repetition stop or budget, or ignore `max_tokens`. Where stops count is ours too
(`stops_start`): after the blanks a choice starts with, when a one-line completion on a
blank line goes on to its first line with content (`stop_after_blank_start`) or may not
start with a line break (`no_leading_line_break`, which a serving engine cannot enforce:
a leading break is written and looked past), and after the first line for a line ahead
(`line_ahead`); the engine is then not sent the stops that blanks could hold
(`engine_stops`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starcoder_ls.engine.base import Generation, GenerationParams
from starcoder_ls.engine.remote.dialects import Piece
from starcoder_ls.engine.stopping import cut_from, ends_in_loop, line_end_after, stops_from


@dataclass
class Choice:
    text: str = ""
    events: int = 0
    tokens: int | None = None
    reason: str | None = None
    seen: bool = False
    first_at: float | None = None
    """Clock time of its first token (`GenerationParams.decode_budget_ms` counts from it)."""

    def generation(self, reason: str | None = None) -> Generation:
        count = self.tokens if self.tokens is not None else self.events
        return Generation(text=self.text, tokens=count, stop_reason=reason or self.reason or "eos")


def add_piece(
    choice: Choice,
    piece: Piece,
    params: GenerationParams,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """One event into its choice. True when this event is a token past `max_new_tokens`:
    it is dropped and the choice ends ("length")."""
    choice.seen = True
    if choice.reason is not None:
        return False  # ended here (a stop string, the token bound) while the engine sends
    if piece.token and choice.events >= params.max_new_tokens:
        choice.reason = "length"
        return True
    start = len(choice.text)
    choice.text += piece.text
    choice.events += int(piece.token)
    if piece.tokens is not None:
        choice.tokens = piece.tokens
    choice.text, stop = cut_from(choice.text, params.stop, stops_start(choice.text, params))
    if stop is not None:
        choice.reason = "stop"
    elif _over_budget(choice, start, params, clock):
        choice.reason = "budget"
    elif params.repetition_stop and piece.text and ends_in_loop(choice.text):
        choice.reason = "repetition"  # once every choice has ended, the stream is closed
    elif piece.finish is not None:
        choice.reason = piece.finish
    return False


def _after_blanks(params: GenerationParams) -> bool:
    return params.stop_after_blank_start or params.no_leading_line_break


def stops_start(text: str, params: GenerationParams) -> int | None:
    """Where stop strings start to count in a choice's `text` (None: not yet)."""
    return stops_from(text, after_blank_start=_after_blanks(params), line_ahead=params.line_ahead)


def engine_stops(params: GenerationParams) -> list[str]:
    """The stop strings the engine may apply itself: all of them, unless stops count only
    after blanks or a first line (`stops_start`): then none that blanks could hold."""
    if _after_blanks(params) or params.line_ahead:
        return [stop for stop in params.stop if stop.strip()]
    return list(params.stop)


def _over_budget(
    choice: Choice, start: int, params: GenerationParams, clock: Callable[[], float]
) -> bool:
    """Whether the decode budget ends the choice at a line end of the text from `start`
    on; then the text is cut there (the line break and what follows left out)."""
    if params.decode_budget_ms <= 0 or len(choice.text) == start:
        return False
    now = clock()
    if choice.first_at is None:
        choice.first_at = now
    if (now - choice.first_at) * 1000 < params.decode_budget_ms:
        return False
    at = line_end_after(choice.text, start)
    if at is None:
        return False
    choice.text = choice.text[:at]
    return True
