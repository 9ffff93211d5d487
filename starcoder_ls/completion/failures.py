"""What an engine's failure becomes, decided here and nowhere else.

Engines raise one error type, `EngineError`: what happened, whether trying again can help
(`retry`) and after how long (`retry_after_s`). The service hands every failed generation
to `Failures`, which decides:

* What the user sees. A request whose call fails gets the error, which the server turns
  into a JSON-RPC error (`server.error_boundary`). An error that says the engine stays
  unusable until something changes (a server down, `retry_after_s`; or refusing, `retry`
  false) is shown once, and quietly answered with nothing while it repeats; an error of
  the call alone (out of memory on this prompt) is shown every time. A prefetch's error
  reaches no one: it is kept for the next request the engine does not answer.
* What the status becomes: "error" with the message once the user sees it, the model's own
  status again once the engine answers. `lifecycle.Model.call` keeps the status from the
  calls that fail and those that answer, so an error is shown by raising it through the
  model (`show`).
* The back-off: the engine is not asked again before `retry_after_s` has passed; until
  then requests get nothing without asking it.

Everything here runs on the event loop's thread, which owns this state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

from starcoder_ls.completion.lifecycle import BackOff, ModelHandle
from starcoder_ls.engine.base import EngineError

log = logging.getLogger(__name__)


class Unanswered(Exception):
    """A planned engine call that gave no answer: `error` is what the engine raised, None
    when it was not asked (backing off after an error)."""

    def __init__(self, error: EngineError | None) -> None:
        super().__init__(str(error) if error is not None else "backing off")
        self.error = error

    @property
    def reason(self) -> str:
        """For the log: never the error's text, which may quote the prompt."""
        if self.error is None:
            return "the engine was not asked: it is backing off after an error"
        return "the engine failed"


def told_once(error: EngineError) -> bool:
    """Whether `error` describes the engine rather than the call: shown once, not at every
    request while it lasts."""
    return error.retry_after_s is not None or not error.retry


class Failures:
    """One service's engine failures: the last one told, the back-off, and the error only
    a prefetch saw. What was told is this client's; the back-off is the engine's
    (`BackOff`, shared by every client of one model)."""

    def __init__(self, *, clock: Callable[[], float], back_off: BackOff | None = None) -> None:
        self.clock = clock
        """The scheduler's (`Scheduler.now`); settable, so a test moves past a back-off."""
        self._told: str | None = None
        """The message of the last failure since the engine last answered."""
        self._back_off = back_off if back_off is not None else BackOff()
        self._unshown: EngineError | None = None
        """An error only a prefetch saw, for the next request the engine does not answer:
        the user would otherwise never hear of it (it is not repeated)."""

    def asking(self) -> None:
        """Before an engine call: `Unanswered(None)` while backing off."""
        if self.clock() < self._back_off.until:
            raise Unanswered(None)

    def answered(self) -> None:
        """The engine gave a whole answer: whatever failed before is over."""
        self._told = None
        self._unshown = None
        self._back_off.until = 0.0

    def forget(self) -> None:
        """A new engine (a load): nothing the old one did applies to it."""
        self.answered()

    def failed(self, failure: Unanswered, *, watched: bool) -> EngineError | None:
        """The error to raise to a request (`watched`), or None to answer nothing."""
        error = failure.error
        if error is not None:
            if error.retry_after_s is not None:
                self._back_off.until = max(self._back_off.until, self.clock() + error.retry_after_s)
            repeated = told_once(error) and str(error) == self._told
            self._told = str(error)
            if not repeated:
                return self._new(error, watched=watched)
            log.info("the engine failed again with the error already told (back-off or not)")
        if not watched:
            return None
        unshown, self._unshown = self._unshown, None
        return unshown

    def _new(self, error: EngineError, *, watched: bool) -> EngineError | None:
        if watched:
            self._unshown = None
            return error
        # A warning without the text (an engine's message may quote the prompt).
        log.warning("prefetch: the engine failed; kept for a request to show")
        log.debug("prefetch: the engine failed: %s", error)
        self._unshown = error
        return None


async def _raising(error: EngineError) -> NoReturn:
    raise error


async def show(model: ModelHandle, error: EngineError) -> NoReturn:
    """Raise `error` to the request through `model`, whose status then shows it ("error"
    with its message) until the engine answers again."""
    await model.call(_raising, error)
    raise AssertionError("unreachable: the call raises")  # pragma: no cover
