"""The model's life cycle: loading, reloading, status and shutdown, on its one worker thread.

Loading and generating share the worker (a model lives on one thread), so every engine
call goes through `Model.call`; an engine that runs on the event loop (a remote one) is
awaited there by the same call, so that its failures and answers set the status alike. A
request that arrives while the model loads can wait for it (`Model.loaded`). Nothing here
knows about requests or documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from starcoder_ls import config
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import Engine, EngineError, GenerationResult, ProgressCallback
from starcoder_ls.engine.models import EMBEDDED_NAME
from starcoder_ls.engine.worker import ModelWorker, WorkerDied

log = logging.getLogger(__name__)

T = TypeVar("T")

EngineFactory = Callable[[Settings, ProgressCallback | None], Engine]
"""Loads the engine the settings ask for; runs on the worker thread."""


def load_engine(settings: Settings, progress: ProgressCallback | None) -> Engine:
    """The default `EngineFactory`: a local transformers model (torch is imported here,
    on first load, not when the server starts); a remote engine for the other backends."""
    if settings.backend != "local":
        from starcoder_ls.engine.remote.setup import open_remote

        return open_remote(config.engine_settings(settings), progress)
    from starcoder_ls.engine.local import LocalEngine

    return LocalEngine.load(config.engine_settings(settings), progress=progress)


def model_label(settings: Settings) -> str:
    """The name users see for the model the settings ask for, before it is loaded or when
    it fails to: the `model` setting (None is the embedded default), or for a remote
    backend `remote: <engine> <model>` as its status says once ready."""
    if settings.backend != "local":
        from starcoder_ls.engine.remote.setup import remote_label

        return remote_label(config.engine_settings(settings))
    return settings.model or EMBEDDED_NAME


@dataclass(frozen=True)
class ModelStatus:
    state: str
    """"loading", "ready", "error" or "disabled"."""
    model: str
    message: str = ""
    device: str = ""
    dtype: str = ""
    template: str = ""
    weights: str = ""
    """Smaller copies of a CPU model's weights for decoding ("float16", "int8"), or ""."""

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class BackOff:
    """No engine call before `until` (a `Scheduler.now` time): the engine said when asking
    again can help (`EngineError.retry_after_s`). One per engine, so every client of a
    shared model (`--tcp`) waits alike; written on the event loop only."""

    until: float = 0.0


class ModelHandle(Protocol):
    """What a `CompletionService` needs of the model: a `Model` of its own, or one TCP
    client's handle on the model all clients share (`lsp/shared_model.ClientModel`)."""

    @property
    def back_off(self) -> BackOff: ...

    @property
    def engine(self) -> Engine | None: ...

    @property
    def status(self) -> ModelStatus: ...

    @property
    def loading(self) -> bool: ...

    async def loaded(self) -> Engine | None: ...

    async def load(self, settings: Settings, progress: ProgressCallback | None) -> ModelStatus: ...

    def set_enabled(self, enabled: bool) -> None: ...

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def shutdown(self) -> None: ...


class Model:
    """The loaded engine (or why there is none), and the worker thread it runs on."""

    def __init__(
        self,
        engine_factory: EngineFactory,
        *,
        label: str,
        on_status: Callable[[ModelStatus], None] = lambda status: None,
    ) -> None:
        """`label`: the model's name until the first load ends (`model_label` of the
        settings it will load)."""
        self._engine_factory = engine_factory
        self._on_status = on_status
        self._worker = ModelWorker()
        self._engine: Engine | None = None
        self._load_generation = 0
        self._settled = asyncio.Event()
        """Set while no load is under way (cleared until the first load ends)."""
        self._status = ModelStatus("loading", label)
        self._enabled = True
        self.back_off = BackOff()
        self._ready: ModelStatus | None = None
        """The status to go back to once the engine works again after a failed call."""
        self._shut_down = False

    @property
    def engine(self) -> Engine | None:
        """The engine when the last load succeeded; None while loading or after a failure."""
        return self._engine

    @property
    def status(self) -> ModelStatus:
        """The model's state, shown as "disabled" while completions are off."""
        if self._enabled:
            return self._status
        return dataclasses.replace(self._status, state="disabled")

    @property
    def loading(self) -> bool:
        return not self._settled.is_set()

    async def loaded(self) -> Engine | None:
        """The engine once no load is under way; None when the last one failed."""
        while not self._settled.is_set():
            await self._settled.wait()
        return self._engine

    def _set_status(self, status: ModelStatus) -> None:
        self._status = status
        self._publish()

    def _publish(self) -> None:
        status = self.status
        shown = f": {status.message}" if status.message else ""
        log.info("model %s: %s%s", status.model, status.state, shown)
        self._on_status(status)

    async def load(self, settings: Settings, progress: ProgressCallback | None) -> ModelStatus:
        """(Re)load the model for `settings` on the worker thread.

        A newer load started meanwhile wins: this one's result is dropped.
        """
        label = model_label(settings)
        self._load_generation += 1
        generation = self._load_generation
        self._engine = None
        self._ready = None
        self._settled.clear()
        self._set_status(ModelStatus("loading", label))
        try:
            return await self._load(settings, progress, generation)
        finally:
            if generation == self._load_generation:
                self._settled.set()

    async def _load(
        self, settings: Settings, progress: ProgressCallback | None, generation: int
    ) -> ModelStatus:
        label = model_label(settings)
        started = time.perf_counter()
        try:
            engine = await self._run(self._replace_engine, settings, progress)
        except EngineError as exc:
            status = ModelStatus("error", label, str(exc))
        except Exception as exc:  # a loader bug must not take the server down
            log.exception("loading %s failed", label)
            status = ModelStatus("error", label, f"{type(exc).__name__}: {exc}")
        else:
            if generation != self._load_generation:
                self._close_later(engine)  # a newer load replaces it
                return self.status
            self._engine = engine
            info = engine.info
            seconds = time.perf_counter() - started
            status = ModelStatus(
                "ready",
                info.model,
                f"loaded in {seconds:.1f} s",
                device=info.device,
                dtype=info.dtype,
                template=info.template.name,
                weights=info.extra.get("weights", ""),
            )
        if generation == self._load_generation:
            self._set_status(status)
        return self.status

    def _replace_engine(self, settings: Settings, progress: ProgressCallback | None) -> Engine:
        old, self._engine = self._engine, None
        if old is not None:
            old.close()
        return self._engine_factory(settings, progress)

    def set_enabled(self, enabled: bool) -> None:
        """Show "disabled" while completions are off, and the model's own state again after."""
        if enabled != self._enabled:
            self._enabled = enabled
            self._publish()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the model's thread, after what is queued there; a coroutine
        function (an engine that runs on the event loop) is awaited on the loop instead.

        A failure there (out of memory, a bug mid-generation, the thread gone, an error
        `failures.show` raises) is raised to the caller and shown as the status "error"
        with its message until a generation succeeds again: a whole answer, not a
        cancelled one, which says nothing of whether it works. The engine is kept, so the
        next request tries again rather than nothing working until a reload.
        """
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(*args)
            else:
                result = await self._run(fn, *args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._call_failed(exc)
            raise
        if isinstance(result, GenerationResult) and not result.cancelled:
            self._generated()
        return result

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the worker thread, restarted first if it died."""
        if not self._worker.accepting and not self._shut_down:
            log.error("the model's worker thread had stopped; starting a new one")
            self._worker = ModelWorker()
        try:
            return await asyncio.wrap_future(self._worker.submit(fn, *args))
        except WorkerDied as exc:
            raise EngineError(f"{exc}; the next request starts a new one") from exc
        except (asyncio.CancelledError, Exception):
            raise
        except BaseException as exc:
            # SystemExit or KeyboardInterrupt from the model's code ends this call, not the
            # server: the worker hands every exception to its caller.
            raise EngineError(f"the model raised {type(exc).__name__}: {exc}") from exc

    def _call_failed(self, exc: Exception) -> None:
        if self._engine is None or self.loading:
            return  # no engine to blame: the request reports it, loads report their own
        message = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        if self._ready is None:
            self._ready = self._status
        failed = dataclasses.replace(self._ready, state="error", message=message)
        if failed != self._status:
            self._set_status(failed)

    def _generated(self) -> None:
        if self._ready is not None and self._engine is not None and not self.loading:
            ready, self._ready = self._ready, None
            self._set_status(ready)

    def _close_later(self, engine: Engine) -> None:
        """Close on the model's thread, after what is queued there; after `shutdown` the
        process is ending and there is nothing left to close it on."""
        with contextlib.suppress(RuntimeError):
            self._worker.submit(engine.close)

    def shutdown(self) -> None:
        self._shut_down = True
        engine, self._engine = self._engine, None
        if engine is not None:
            self._close_later(engine)
        self._worker.shutdown(wait=False)
