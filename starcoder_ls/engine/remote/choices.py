"""One choice of a streamed answer, built event by event, with our own stops applied.

Stop strings, the repetition stop and `max_new_tokens` are applied here whatever the
engine does: an engine may take only a few stop strings (TGI: 4), know no repetition
stop, or ignore `max_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starcoder_ls.engine.base import Generation, GenerationParams
from starcoder_ls.engine.remote.dialects import Piece
from starcoder_ls.engine.stopping import cut_at_stop, ends_in_loop


@dataclass
class Choice:
    text: str = ""
    events: int = 0
    tokens: int | None = None
    reason: str | None = None
    seen: bool = False

    def generation(self, reason: str | None = None) -> Generation:
        count = self.tokens if self.tokens is not None else self.events
        return Generation(text=self.text, tokens=count, stop_reason=reason or self.reason or "eos")


def add_piece(choice: Choice, piece: Piece, params: GenerationParams) -> bool:
    """One event into its choice. True when this event is a token past `max_new_tokens`:
    it is dropped and the choice ends ("length")."""
    choice.seen = True
    if choice.reason is not None:
        return False  # ended here (a stop string, the token bound) while the engine sends
    if piece.token and choice.events >= params.max_new_tokens:
        choice.reason = "length"
        return True
    choice.text += piece.text
    choice.events += int(piece.token)
    if piece.tokens is not None:
        choice.tokens = piece.tokens
    choice.text, stop = cut_at_stop(choice.text, params.stop)
    if stop is not None:
        choice.reason = "stop"
    elif params.repetition_stop and piece.text and ends_in_loop(choice.text):
        choice.reason = "repetition"  # once every choice has ended, the stream is closed
    elif piece.finish is not None:
        choice.reason = piece.finish
    return False
