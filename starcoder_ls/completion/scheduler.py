"""Debouncing, latest-wins superseding and cancellation of completion requests.

Editors ask for a completion on nearly every keystroke, while the model serves one
generation at a time on its single worker thread. Only the newest request for a
document is worth computing: older ones are cancelled as soon as a newer one
arrives or the document moves on, and nothing reaches the model until the user
has paused for `debounce_ms`. This is the only module that knows about time, so
the clock and the sleep are injected and tests never wait for real (the back-off of
`failures.py` reads the same clock, `now`).

Every method runs on the asyncio loop's thread. The one object shared with the
engine's worker thread is each ticket's `threading.Event`, which is thread-safe; an
engine that runs on the loop is awaited through `run`, which cancels its task instead.

A handler is expected to read::

    ticket = scheduler.begin(uri, version, request_id)
    try:
        if not await scheduler.debounce(ticket, skip=invoked_explicitly):
            return []
        result = await run_on_engine_thread(prompt, params, ticket.cancel)
        if not scheduler.is_current(ticket, current_version(uri)):
            return []
        return result
    except asyncio.CancelledError:
        scheduler.cancel(ticket)  # the worker thread stops generating too
        raise
    finally:
        scheduler.finish(ticket)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True, eq=False)
class Ticket:
    """One completion request; compared by identity because each is unique.

    `cancel` is handed to the engine, which checks it at every decode step, since
    cancelling the awaiting coroutine cannot stop the worker thread.
    """

    id: int
    """The request's id, given by the caller, so the scheduler's log lines name the same
    request as the caller's."""
    key: str
    """The document uri: superseding is per document."""
    version: int
    """The document version the completion is computed for."""
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float
    """Clock time at `begin`, so the time spent before `debounce` counts towards it."""

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


class Scheduler:
    """Keeps at most one live ticket per document and decides when a ticket may run.

    Not thread-safe by design: it is owned by the event loop.
    """

    def __init__(
        self,
        *,
        debounce_ms: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.debounce_ms = debounce_ms
        self._clock = clock
        self._sleep = sleep
        self._latest: dict[str, Ticket] = {}
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}

    @property
    def debounce_ms(self) -> int:
        """Settable so a settings change applies to the next request without a restart."""
        return self._debounce_ms

    @debounce_ms.setter
    def debounce_ms(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"debounce_ms must be a non-negative integer, got {value!r}")
        self._debounce_ms = value

    def now(self) -> float:
        return self._clock()

    def __len__(self) -> int:
        """Documents with a live ticket; stays bounded by the open documents."""
        return len(self._latest)

    def begin(self, key: str, version: int, request_id: int) -> Ticket:
        """Start a request; the previous one for the same document is superseded."""
        ticket = Ticket(id=request_id, key=key, version=version, created=self._clock())
        previous = self._latest.get(key)
        if previous is not None:
            log.debug("request %d superseded by %d", previous.id, ticket.id)
            self._cancel(previous)
        self._latest[key] = ticket
        return ticket

    def detached(self, key: str, version: int, request_id: int) -> Ticket:
        """A ticket that supersedes none and that no request supersedes (a prefetch, which
        its own owner cancels through `cancel`)."""
        return Ticket(id=request_id, key=key, version=version, created=self._clock())

    async def debounce(self, ticket: Ticket, *, skip: bool = False) -> bool:
        """Wait until `debounce_ms` after the ticket began; False if it was cancelled meanwhile.

        A ticket cancelled through this scheduler wakes up at once, so a superseded
        handler returns its empty result immediately instead of at the end of its
        window. `skip` is for explicitly invoked completions, where the user is
        waiting and no further keystroke is expected.
        """
        if skip or ticket.cancelled:
            return not ticket.cancelled
        delay = ticket.created + self._debounce_ms / 1000 - self._clock()
        if delay > 0:
            await self._unless_cancelled(ticket, self._sleep(delay))
        return not ticket.cancelled

    async def wait_for(self, ticket: Ticket, until: Callable[[], Awaitable[object]]) -> bool:
        """Wait for `until()` (a model still loading); False if the ticket was cancelled
        first, which wakes the wait at once as in `debounce`."""
        if ticket.cancelled:
            return False
        await self._unless_cancelled(ticket, until())
        return not ticket.cancelled

    async def run(self, ticket: Ticket, work: Callable[[], Awaitable[T]]) -> T | None:
        """`work()` as a task of its own, cancelled at once when the ticket is (an engine on
        the event loop stops then, its stream closed); None when it was."""
        if ticket.cancelled:
            return None
        task = asyncio.ensure_future(work())
        await self._unless_cancelled(ticket, task)
        if not task.done() or task.cancelled():
            return None
        if ticket.cancelled:
            task.exception()  # what a generation nobody wants raised is no news
            return None
        return task.result()

    def cancel(self, ticket: Ticket) -> None:
        """For `$/cancelRequest`, or any exit of the handler before its result is used."""
        self._cancel(ticket)

    def document_changed(self, key: str, version: int) -> None:
        """A result computed for an older version would be inserted at a stale position."""
        ticket = self._latest.get(key)
        if ticket is not None and ticket.version != version:
            log.debug("request %d cancelled: document now at version %d", ticket.id, version)
            self._cancel(ticket)

    def document_closed(self, key: str) -> None:
        ticket = self._latest.get(key)
        if ticket is not None:
            self._cancel(ticket)

    def is_current(self, ticket: Ticket, current_version: int | None) -> bool:
        """Whether the result may still be shown; `None` stands for a closed document."""
        return not ticket.cancelled and ticket.version == current_version

    def finish(self, ticket: Ticket) -> None:
        """Forget the ticket unless a newer one for its document has taken its place."""
        if self._latest.get(ticket.key) is ticket:
            del self._latest[ticket.key]

    def _cancel(self, ticket: Ticket) -> None:
        ticket.cancel.set()
        waiter = self._waiters.get(ticket)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.finish(ticket)

    async def _unless_cancelled(self, ticket: Ticket, awaitable: Awaitable[object]) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[ticket] = woken
        waiting = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait((waiting, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiters.pop(ticket, None)
            waiting.cancel()
