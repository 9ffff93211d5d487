"""The model every TCP client shares (`tcp.py`), and each client's handle on it.

One `SharedModel` per server: loaded once, with the server's settings, on one worker
thread. Each connection's `CompletionService` holds a `ClientModel`, which is a
`lifecycle.ModelHandle` like a `Model` of its own, so the service cannot tell the
difference; its status, and whether completions are enabled, are the client's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from starcoder_ls.completion.lifecycle import (
    BackOff,
    EngineFactory,
    Model,
    ModelStatus,
    model_label,
)
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import Engine, ProgressCallback


class SharedModel:
    """The one model every connection uses, with a listener per connection for its status."""

    def __init__(self, settings: Settings, engine_factory: EngineFactory) -> None:
        self.settings = settings
        self.model = Model(engine_factory, label=model_label(settings), on_status=self._broadcast)
        self._clients: set[ClientModel] = set()
        self._load: asyncio.Task[ModelStatus] | None = None
        self.request_ids = itertools.count(1)
        """One numbering for every client's requests: they share one log."""

    def attach(self, on_status: Callable[[ModelStatus], None]) -> ClientModel:
        client = ClientModel(self, on_status)
        self._clients.add(client)
        return client

    def detach(self, client: ClientModel) -> None:
        self._clients.discard(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def start_loading(self, progress: ProgressCallback | None) -> asyncio.Task[ModelStatus]:
        """The load under way or done; a new one when none was started or the last one
        failed (the next client that asks tries again). Its starter gets its progress."""
        if self._load is None or (self._load.done() and self.model.engine is None):
            self._load = asyncio.get_running_loop().create_task(
                self.model.load(self.settings, progress)
            )
        return self._load

    async def ensure_loaded(self, progress: ProgressCallback | None) -> ModelStatus:
        # A client leaving mid-load cancels its wait, never the load the others wait for.
        return await asyncio.shield(self.start_loading(progress))

    def _broadcast(self, status: ModelStatus) -> None:
        for client in list(self._clients):
            client.publish()

    def shutdown(self) -> None:
        if self._load is not None and not self._load.done():
            self._load.cancel()
        self.model.shutdown()


class ClientModel:
    """One connection's handle on the shared model (`lifecycle.ModelHandle`).

    Enabling and disabling completions is the client's own business: its status says
    "disabled" while the model stays ready for the others. Shutting it down detaches it.
    """

    def __init__(self, shared: SharedModel, on_status: Callable[[ModelStatus], None]) -> None:
        self._shared = shared
        self._on_status = on_status
        self._enabled = True
        self._attached = True

    @property
    def engine(self) -> Engine | None:
        return self._shared.model.engine

    @property
    def back_off(self) -> BackOff:
        """The shared engine's: a server that is down is down for every client."""
        return self._shared.model.back_off

    @property
    def status(self) -> ModelStatus:
        status = self._shared.model.status
        return status if self._enabled else dataclasses.replace(status, state="disabled")

    @property
    def loading(self) -> bool:
        return self._shared.model.loading

    async def loaded(self) -> Engine | None:
        return await self._shared.model.loaded()

    async def load(self, settings: Settings, progress: ProgressCallback | None) -> ModelStatus:
        """The shared model, loaded if it is not yet; `settings` carry the server's model
        fields (`tcp.HOST_FIELDS`), so there is nothing of the client's own to load."""

        def report(message: str, percentage: int | None) -> None:
            if self._attached and progress is not None:
                progress(message, percentage)

        await self._shared.ensure_loaded(report)
        return self.status

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self._enabled:
            self._enabled = enabled
            self.publish()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`Model.call` on the shared model, with `fn` as it came: a coroutine function (an
        engine that runs on the event loop) is awaited on the loop only if `Model.call`
        can still tell it is one."""
        return await self._shared.model.call(fn, *args)

    def publish(self) -> None:
        if self._attached:
            self._on_status(self.status)

    def shutdown(self) -> None:
        self._attached = False
        self._shared.detach(self)
