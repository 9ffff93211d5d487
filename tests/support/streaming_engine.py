"""A stand-in for a model that writes its answer one character a step, slowly, and says
what it has written so far (`on_text`): a generation the test can type along with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from starcoder_ls.engine.base import EngineInfo, Generation, GenerationParams, GenerationResult
from starcoder_ls.engine.fim import PREFIX_ONLY
from starcoder_ls.engine.stopping import cut_from, stops_from


@dataclass
class Call:
    prompt: str
    params: GenerationParams
    text: str = ""
    """What it had written when it ended."""
    cancelled: bool = False
    ended: bool = False


class StreamingEngine:
    """Answers `answer(prompt)` one character per `step_ms`, honouring `cancel` at every
    step; records each call (`calls`), and `started` is set at each call's first step."""

    streams_text = True

    def __init__(self, answer: Callable[[str], str], *, step_ms: float = 20) -> None:
        self.info = EngineInfo(model="streaming", template=PREFIX_ONLY, context_window=2048)
        self.answer = answer
        self.step_s = step_ms / 1000
        self.calls: list[Call] = []
        self.started = threading.Event()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        *,
        on_token: Callable[[int], None] | None = None,
        on_text: Callable[[str], None] | None = None,
        **kwargs: object,
    ) -> GenerationResult:
        call = Call(prompt, params)
        self.calls.append(call)
        full = self.answer(prompt)
        end, stop = self._end(full, params)
        full = full[: end + len(stop)]  # the stop is written, then it stops
        self.started.set()
        written = ""
        for char in full:
            if cancel.wait(self.step_s):
                break
            written += char
            if on_token is not None:
                on_token(len(written))
            if on_text is not None:
                on_text(written)
            if cancel.is_set():
                break
        call.cancelled = cancel.is_set()
        text = written[: self._end(written, params)[0]]
        call.text, call.ended = text, True
        choice = Generation(
            text=text, tokens=len(written), stop_reason="cancelled" if call.cancelled else "eos"
        )
        return GenerationResult(
            choices=(choice,),
            prompt_tokens=3,
            generate_ms=1.0,
            cancelled=call.cancelled,
        )

    @staticmethod
    def _end(text: str, params: GenerationParams) -> tuple[int, str]:
        """Where the stops end `text`, as the engines' rules say (stopping.py), and the
        stop found there ("" for none)."""
        start = stops_from(
            text, after_blank_start=params.stop_after_blank_start, line_ahead=params.line_ahead
        )
        cut, stop = cut_from(text, params.stop, start)
        return len(cut), stop or ""

    def close(self) -> None:
        pass
