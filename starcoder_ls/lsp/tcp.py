"""Many editors on one server over TCP (`serve --tcp PORT`): one model, one state per client.

Each connection gets a `StarcoderServer` of its own (its pygls protocol, documents,
settings, scheduler, caches and pending requests), so what one client opens, types or
asks for never reaches another client's prompts or answers, and a client that leaves
takes only its own state with it. The model and its worker thread are shared
(`shared_model.SharedModel`): loaded once, when the server starts, as its command line
says.

The settings that choose the model (`HOST_FIELDS`) are the server's: two clients asking
for different models cannot both be served by one model, and reloading a 15B model
because the last editor to connect named another would stall every other client for
minutes. A client's own values for them are ignored, and it is told so once.

Any local user can connect to the port. `--tcp-token-file` makes a client present the
file's token as `initializationOptions.tcpToken`; without it, or with a wrong one, the
`initialize` request gets an error and the connection is closed
(`tcp_guard.TokenProtocol`). See docs/tcp.md.

Any local user can also try to wear the server out (issue 18), so a connection costs
little until it has initialized: nothing is built for it before its first whole message,
it has `HANDSHAKE_TIMEOUT_S` to initialize and `HANDSHAKE_MAX_BODY` per message until then,
at most `MAX_PENDING` such connections are held (a new one closes the oldest), and at most
`MAX_CLIENTS` initialized ones. A client that leaves its replies unread is not read from,
and is dropped after `WRITE_STALL_S` (`tcp_guard.py`, docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import resource
import signal
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from starcoder_ls.completion.lifecycle import EngineFactory, load_engine, model_label
from starcoder_ls.config import REMOTE_DEBOUNCE_MS, Settings
from starcoder_ls.lsp.framing import FrameParser
from starcoder_ls.lsp.server import StarcoderServer, create_server
from starcoder_ls.lsp.shared_model import SharedModel
from starcoder_ls.lsp.tcp_guard import (
    GuardedReads,
    Handshake,
    Limits,
    LogQuota,
    TokenProtocol,
    first_frame,
)
from starcoder_ls.lsp.transport import leave
from starcoder_ls.text.names import camel

log = logging.getLogger(__name__)

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
    "cpu_weights",
    "endpoint",
    "remote_model",
    "api_key_env",
    "ca_bundle",
    "connect_timeout_ms",
    "read_timeout_ms",
)
"""The settings in `Settings.model_key`: the shared model's, set by the server's command
line; every other setting is each client's own."""

MAX_PENDING = 16
"""Connections held at once that have not initialized (with the token, when the server has
one); one more closes the oldest. An editor initializes within milliseconds of connecting,
so what is crowded out is what does not speak."""
MAX_CLIENTS = 32
"""Initialized connections at once; an `initialize` beyond it is refused (-32803) and the
connection closed. A shared server suits a handful of editors (docs/tcp.md)."""
HANDSHAKE_TIMEOUT_S = 10.0
"""From connecting to a successful `initialize`: a connection not there by then is closed."""
HANDSHAKE_MAX_BODY = 1024 * 1024
"""The largest message before `initialize` (which is a few KB): a larger one closes the
connection. After it, messages may be `framing.MAX_BODY` (64 MiB)."""
FRAME_STALL_S = 60.0
"""After `initialize`, how long a message may stop arriving halfway before the connection
is closed. Between messages a connection may stay idle for ever: editors do."""
WRITE_BACKLOG = 1024 * 1024
"""Bytes of replies a client may leave unread before the server stops reading from it."""
WRITE_STALL_S = 30.0
"""How long a client may leave more than `WRITE_BACKLOG` unread before it is dropped."""


def current_limits() -> Limits:
    """The constants above as they are now (a test shrinks them)."""
    return Limits(
        handshake_timeout_s=HANDSHAKE_TIMEOUT_S,
        handshake_max_body=HANDSHAKE_MAX_BODY,
        frame_stall_s=FRAME_STALL_S,
        write_backlog=WRITE_BACKLOG,
        write_stall_s=WRITE_STALL_S,
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
            names = ", ".join(camel(name) for name in ignored)
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


class TcpHost:
    """Accepts connections and gives each that speaks its own `ConnectionServer` on the
    shared model, within the limits above."""

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
        """Every connection that has spoken, with its server."""
        self.clients: set[ConnectionServer] = set()
        """The initialized ones."""
        self.pending: dict[asyncio.StreamWriter, str] = {}
        """Connections not initialized yet, oldest first, with their peers' addresses."""
        self.quota = LogQuota(log)
        self._server: asyncio.Server | None = None
        self._undo_accept_errors: Callable[[], None] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen, and start loading the model so that it is ready for the first client."""
        self.shared = SharedModel(self.settings, self.engine_factory)
        self.shared.start_loading(None)
        self._undo_accept_errors = self.quota.accept_errors(asyncio.get_running_loop())
        _check_file_limit()
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
        peer = "{}:{}".format(*(writer.get_extra_info("peername") or ("?", 0))[:2])
        limits = current_limits()
        deadline = asyncio.get_running_loop().time() + limits.handshake_timeout_s
        self._make_room()
        self.pending[writer] = peer
        server: ConnectionServer | None = None
        try:
            first, problem = await first_frame(reader, deadline, limits.handshake_max_body)
            if first is None:
                if problem is not None:
                    self.quota.log(logging.INFO, "closed %s: %s", peer, problem)
                return
            server = self._build(peer, writer)
            parser = FrameParser(max_body=limits.handshake_max_body)
            protocol = server.protocol
            handshake = Handshake(
                replay=first,
                deadline=deadline,
                initialized=lambda: protocol.initialize_received,
            )
            reads = GuardedReads(reader, writer, parser, limits, handshake)
            await server.serve(reads, parser)
            if reads.ended is not None:
                level = logging.INFO if server in self.clients else logging.DEBUG
                self.quota.log(level, "closed %s: it %s", peer, reads.ended)
        except Exception:
            log.exception("client %s: connection failed", peer)
        finally:
            self.pending.pop(writer, None)
            was_client = server is not None and server in self.clients
            if server is not None:
                server.service.shutdown()  # detaches from the shared model (idempotent)
                server.stop_thread_pool()
                self.connections.pop(server, None)
                self.clients.discard(server)
            await _close(writer, limits.write_stall_s)
            if was_client:
                log.info("client %s left (%d connected)", peer, len(self.clients))

    def _make_room(self) -> None:
        """Close the oldest connections not yet initialized, to hold `MAX_PENDING` at most
        with the one that just came."""
        while self.pending and len(self.pending) >= MAX_PENDING:
            oldest = next(iter(self.pending))
            peer = self.pending.pop(oldest)
            oldest.close()
            self.quota.log(
                logging.INFO, "closed %s: %d connections had not initialized", peer, MAX_PENDING
            )

    def _build(self, peer: str, writer: asyncio.StreamWriter) -> ConnectionServer:
        """The server of a connection that has spoken (building one costs ~12 ms)."""
        assert self.shared is not None
        make = functools.partial(ConnectionServer, shared=self.shared, token=self.token, peer=peer)
        server = create_server(self.settings, self.engine_factory, server_cls=make)
        assert isinstance(server, ConnectionServer)
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        protocol = server.protocol
        assert isinstance(protocol, TokenProtocol)
        protocol.max_clients = MAX_CLIENTS
        protocol.connected = lambda: len(self.clients)
        protocol.on_initialized = functools.partial(self._initialized, server, writer, peer)
        protocol.quota = self.quota
        self.connections[server] = writer
        return server

    def _initialized(
        self, server: ConnectionServer, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        self.pending.pop(writer, None)
        self.clients.add(server)
        log.info("client %s connected (%d connected)", peer, len(self.clients))

    async def close(self) -> None:
        """Stop listening, end every connection and stop the model."""
        if self._server is not None:
            self._server.close()
        for writer in [*self.connections.values(), *self.pending]:
            writer.close()
        for _ in range(100):
            if not self.connections:
                break
            await asyncio.sleep(0.01)
        if self.shared is not None:
            self.shared.shutdown()
        if self._undo_accept_errors is not None:
            self._undo_accept_errors()


async def _close(writer: asyncio.StreamWriter, flush_s: float) -> None:
    """Close once the replies still queued are sent, or drop them: a client that does not
    read them would keep the connection open for ever."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), flush_s)
    except TimeoutError:
        writer.transport.abort()
    except (ConnectionError, OSError):
        pass


def _check_file_limit() -> None:
    """Warn when the file limit leaves no room for the connections held at most (asyncio
    accepts up to 100 at once before the oldest are closed)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = MAX_PENDING + MAX_CLIENTS + 100 + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "the file limit (%d) is low for %d clients and %d pending connections:"
            " raise it to %d or more (ulimit -n)",
            soft,
            MAX_CLIENTS,
            MAX_PENDING,
            needed,
        )


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
