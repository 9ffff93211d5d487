"""Many editors on one server over TCP (`serve --tcp PORT`): one model, one state per client.

Each connection gets a `StarcoderServer` of its own (its pygls protocol, documents,
settings, scheduler, caches and pending requests), so what one client opens, types or
asks for never reaches another client's prompts or answers, and a client that leaves
takes only its own state with it. The model and its worker thread are shared
(`SharedModel`): loaded once, when the server starts, as its command line says.

The settings that choose the model (`HOST_FIELDS`) are the server's: two clients asking
for different models cannot both be served by one model, and reloading a 15B model
because the last editor to connect named another would stall every other client for
minutes. A client's own values for them are ignored, and it is told so once.

Any local user can connect to the port. `--tcp-token-file` makes a client present the
file's token as `initializationOptions.tcpToken`; without it, or with a wrong one, the
`initialize` request gets an error and the connection is closed. See docs/tcp.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hmac
import itertools
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from starcoder_ls.config import REMOTE_DEBOUNCE_MS, Settings
from starcoder_ls.engine.base import Engine, ProgressCallback
from starcoder_ls.lifecycle import EngineFactory, Model, ModelStatus, load_engine, model_label
from starcoder_ls.protocol import StarcoderProtocol
from starcoder_ls.server import StarcoderServer, create_server
from starcoder_ls.transport import leave, stream_reads

log = logging.getLogger(__name__)

TOKEN_OPTION = "tcpToken"
"""The `initializationOptions` key (top level or in the `starcoder` section) of the token."""

HOST_FIELDS = (
    "backend",
    "model",
    "device",
    "dtype",
    "fim_template",
    "context_window",
    "allow_downloads",
    "draft_model",
    "attention",
    "static_cache",
    "compile",
    "endpoint",
    "remote_model",
    "api_key_env",
    "ca_bundle",
    "connect_timeout_ms",
    "read_timeout_ms",
)
"""The settings in `Settings.model_key`: the shared model's, set by the server's command
line; every other setting is each client's own."""


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
        fields (`HOST_FIELDS`), so there is nothing of the client's own to load."""

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
        return await self._shared.model.call(fn, *args)

    def publish(self) -> None:
        if self._attached:
            self._on_status(self.status)

    def shutdown(self) -> None:
        self._attached = False
        self._shared.detach(self)


class TokenProtocol(StarcoderProtocol):
    """Refuses an `initialize` without the server's token, and ends the connection."""

    token: str | None = None

    def receive_value(self, value: Any) -> None:
        if (
            self.token is not None
            and not self.initialize_received
            and isinstance(value, dict)
            and value.get("method") == types.INITIALIZE
            and "id" in value
            and not self._take_token(value)
        ):
            log.warning(
                "initialize refused: no or a wrong %s; closing the connection", TOKEN_OPTION
            )
            self._send_data(
                {
                    "jsonrpc": "2.0",
                    "id": value["id"],
                    "error": {
                        "code": JsonRpcInvalidParams.CODE,
                        "message": "starcoder-ls: this server needs the token of its"
                        f" --tcp-token-file in initializationOptions.{TOKEN_OPTION}",
                        "data": {"retry": False},
                    },
                }
            )
            self.exit_code = 1
            return
        super().receive_value(value)

    def _take_token(self, message: dict[str, Any]) -> bool:
        """Whether the message carries the token; it is removed either way, so that it
        reaches neither the settings nor a log line."""
        params = message.get("params")
        options = params.get("initializationOptions") if isinstance(params, dict) else None
        given: list[Any] = []
        if isinstance(options, dict):
            given.append(options.pop(TOKEN_OPTION, None))
            section = options.get("starcoder")
            if isinstance(section, dict):
                given.append(section.pop(TOKEN_OPTION, None))
        assert self.token is not None
        expected = self.token.encode()
        return any(
            isinstance(value, str) and hmac.compare_digest(value.encode(), expected)
            for value in given
        )


class ConnectionServer(StarcoderServer):
    """The server of one TCP connection, on the shared model."""

    def __init__(
        self,
        settings: Settings,
        engine_factory: EngineFactory,
        *,
        shared: SharedModel,
        token: str | None,
        peer: str,
    ) -> None:
        self._shared = shared
        self.peer = peer
        self._ignored: tuple[str, ...] = ()
        super().__init__(
            settings,
            engine_factory,
            model=shared.attach(self._publish_status),
            protocol_cls=TokenProtocol,
        )
        self.protocol.token = token  # type: ignore[attr-defined]
        self.service.share_request_ids(shared.request_ids)

    def client_settings(self, asked: Settings) -> Settings:
        host = self._shared.settings
        ignored = tuple(name for name in HOST_FIELDS if getattr(asked, name) != getattr(host, name))
        if ignored and ignored != self._ignored:
            names = ", ".join(_camel(name) for name in ignored)
            log.info(
                "client %s: its %s settings are not used (the model is shared)", self.peer, names
            )
            self.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning,
                    message=f"starcoder-ls is shared over TCP and serves"
                    f" {model_label(host)} for every client, as its command line says:"
                    f" this editor's {names} settings are not used",
                )
            )
        self._ignored = ignored
        return shared_settings(asked, host)


def shared_settings(asked: Settings, host: Settings) -> Settings:
    """A client's settings on the shared model: the host's model fields (`HOST_FIELDS`), and
    an "auto" debounce of `REMOTE_DEBOUNCE_MS`, as for a remote engine: with several editors
    on one worker thread, a call per keystroke of each would keep it from the others."""
    pinned = {name: getattr(host, name) for name in HOST_FIELDS}
    if asked.debounce_ms is None:
        pinned["debounce_ms"] = REMOTE_DEBOUNCE_MS
    return dataclasses.replace(asked, **pinned)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class TcpHost:
    """Accepts connections and gives each its own `ConnectionServer` on the shared model."""

    def __init__(
        self,
        settings: Settings,
        engine_factory: EngineFactory = load_engine,
        *,
        token: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine_factory = engine_factory
        self.token = token
        self.shared: SharedModel | None = None
        self.connections: dict[ConnectionServer, asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen, and start loading the model so that it is ready for the first client."""
        self.shared = SharedModel(self.settings, self.engine_factory)
        self.shared.start_loading(None)
        self._server = await asyncio.start_server(self._connection, host, port)
        address = self._server.sockets[0].getsockname()
        log.info(
            "serving LSP on %s:%d, one state per client%s",
            address[0],
            address[1],
            ", token required" if self.token else "; any local user can connect",
        )
        return address[0], address[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.shared is not None
        peer = "{}:{}".format(*(writer.get_extra_info("peername") or ("?", 0))[:2])
        make = functools.partial(ConnectionServer, shared=self.shared, token=self.token, peer=peer)
        server = create_server(self.settings, self.engine_factory, server_cls=make)
        assert isinstance(server, ConnectionServer)
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        self.connections[server] = writer
        log.info("client %s connected (%d connected)", peer, len(self.connections))
        try:
            await server.serve(stream_reads(reader))
        except Exception:
            log.exception("client %s: connection failed", peer)
        finally:
            server.service.shutdown()  # detaches from the shared model (again: idempotent)
            server.stop_thread_pool()
            self.connections.pop(server, None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            log.info("client %s left (%d connected)", peer, len(self.connections))

    async def close(self) -> None:
        """Stop listening, end every connection and stop the model."""
        if self._server is not None:
            self._server.close()
        for writer in list(self.connections.values()):
            writer.close()
        for _ in range(100):
            if not self.connections:
                break
            await asyncio.sleep(0.01)
        if self.shared is not None:
            self.shared.shutdown()


def read_token(path: Path) -> str:
    """The token in `path` (surrounding whitespace removed); an empty file is an error."""
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path} is empty: put the token clients must present in it")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s can be read by other users (mode %o): chmod 600 it", path, mode)
    return token


async def _serve_until_stopped(host_server: TcpHost, host: str, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await host_server.start(host, port)
    await stop.wait()
    log.info("stopping: %d clients connected", len(host_server.connections))
    await host_server.close()
    return 0


def run(
    settings: Settings,
    host: str,
    port: int,
    *,
    token_file: Path | None = None,
    engine_factory: EngineFactory = load_engine,
) -> int:
    """`serve --tcp`: serve until SIGINT or SIGTERM, then leave (`transport.leave`)."""
    try:
        token = read_token(token_file) if token_file is not None else None
    except (OSError, ValueError) as exc:
        log.error("cannot read the TCP token: %s", exc)
        return 2
    try:
        host_server = TcpHost(settings, engine_factory, token=token)
        code = asyncio.run(_serve_until_stopped(host_server, host, port))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        return 2
    leave(code)
