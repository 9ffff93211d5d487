"""The one thread that owns the model.

CUDA contexts, caches and the model's weights are happiest on a single thread, and
generation is compute-bound anyway, so a pool would only add contention. The asyncio
side awaits `asyncio.wrap_future(worker.submit(...))` and never blocks its loop.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class WorkerDied(RuntimeError):
    """The worker thread ended by accident: the calls left on it will never run."""


class ModelWorker:
    """A daemon thread running submitted calls one at a time, in submission order."""

    def __init__(self, name: str = "starcoder-ls-model") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._running: Future[Any] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def accepting(self) -> bool:
        """False as soon as `submit` would refuse: after `shutdown`, or from the moment a
        dying loop starts failing its calls, while its thread may still be finishing."""
        with self._lock:
            return not self._closed and self._thread.is_alive()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; its result or exception arrives through the future."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("model worker is shut down")
            self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Stop after the calls already queued have run (they still complete).

        Idempotent. With `wait`, blocks until the thread has finished them.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._fail_the_rest()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            # A caller that cancelled before we got here (e.g. a superseded request) is skipped.
            if not future.set_running_or_notify_cancel():
                continue
            self._running = future
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                # Even KeyboardInterrupt/SystemExit go to the caller: a dead worker would
                # leave every later future hanging forever.
                future.set_exception(exc)
            else:
                future.set_result(result)
            self._running = None

    def _fail_the_rest(self) -> None:
        """Should the loop itself die (a bug, an exception injected into the thread), the
        call it was running and every queued one fail instead of hanging their callers;
        `submit` refuses from now on."""
        with self._lock:
            self._closed = True
        died = WorkerDied("the model's worker thread stopped; the call did not complete")
        running, self._running = self._running, None
        if running is not None and not running.done():
            running.set_exception(died)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item[0].set_running_or_notify_cancel():
                item[0].set_exception(died)
