"""What keeps one TCP connection from costing the server more than an editor does.

`tcp.TcpHost` holds the numbers (`tcp.MAX_PENDING` and the others, documented there and in
docs/reliability.md); this module reads a connection under them:

- `TokenProtocol`: an `initialize` without the server's token, or beyond the clients the
  server takes, is refused and ends the connection, as does a message over the
  handshake's frame limit before it;
- `first_frame`: nothing is built for a connection until its first whole message has
  arrived (a server per connection costs ~12 ms of the event loop), within the handshake
  deadline and under the handshake's frame limit;
- `GuardedReads`: the reads of the connection's read loop, which stop (b"", as at the end
  of input) when the client has not initialized by its deadline, leaves a frame unfinished
  for too long, or leaves too many of its replies unread; a client whose replies pile up
  is not read from until it reads them;
- `LogQuota`: lines logged for what any client can repeat (connections crowded out, timed
  out, refused) are limited per minute, as are asyncio's accept errors at the file limit.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from starcoder_ls.lsp.framing import (
    MAX_BODY,
    MAX_HEADER,
    Event,
    FrameParser,
    Message,
    Oversized,
    Unparsable,
)
from starcoder_ls.lsp.protocol import WARNINGS_LOGGED, StarcoderProtocol
from starcoder_ls.lsp.transport import CHUNK

log = logging.getLogger(__name__)

TOKEN_OPTION = "tcpToken"
"""The `initializationOptions` key (top level or in the `starcoder` section) of the token."""
REQUEST_FAILED = -32803
"""LSP's RequestFailed: the `initialize` beyond `TokenProtocol.max_clients`."""

ACCEPT_ERROR = "socket.accept() out of system resource"
"""asyncio's message when `accept` fails for want of a file descriptor (or memory)."""


@dataclass(frozen=True)
class Handshake:
    """Where a connection stands with its `initialize` when its reads begin."""

    replay: bytes
    """The bytes `first_frame` read, handed out first."""
    deadline: float
    """The event loop's time by which the client must have initialized."""
    initialized: Callable[[], bool]
    """Whether it has."""


@dataclass(frozen=True)
class Limits:
    """One connection's limits (`tcp.py`'s constants at the time it arrived)."""

    handshake_timeout_s: float
    handshake_max_body: int
    frame_stall_s: float
    write_backlog: int
    write_stall_s: float


class LogQuota:
    """At most `burst` lines a `period_s`; then, once the period is over, one line saying
    how many were left out."""

    def __init__(self, logger: logging.Logger, *, burst: int = 5, period_s: float = 60.0) -> None:
        self._log = logger
        self._burst = burst
        self._period_s = period_s
        self._start = -period_s
        self._lines = 0
        self._left_out = 0

    def log(self, level: int, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._start >= self._period_s:
            if self._left_out:
                self._log.log(
                    level, "... and %d more such lines in the last minute", self._left_out
                )
            self._start, self._lines, self._left_out = now, 0, 0
        if self._lines < self._burst:
            self._lines += 1
            self._log.log(level, message, *args)
        else:
            self._left_out += 1
            self._log.debug(message, *args)

    def accept_errors(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """Route asyncio's accept errors through the quota (asyncio logs each with its
        traceback, up to a hundred a second at the file limit); returns the undoing."""
        previous = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == ACCEPT_ERROR:
                self.log(logging.WARNING, "cannot accept connections: %s", context.get("exception"))
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)
        return lambda: loop.set_exception_handler(previous)


async def first_frame(
    reader: asyncio.StreamReader, deadline: float, max_body: int
) -> tuple[bytes | None, str | None]:
    """The bytes read up to the end of the client's first whole message; or None and why
    (None: the client left)."""
    parser = FrameParser(max_body=max_body)
    received = bytearray()
    loop = asyncio.get_running_loop()
    while True:
        left = deadline - loop.time()
        try:
            data = await asyncio.wait_for(reader.read(CHUNK), left) if left > 0 else None
        except TimeoutError:
            data = None
        except ConnectionError:
            return None, None
        if data is None:
            return None, "no whole message before its initialize deadline"
        if not data:
            return None, None
        received += data
        for event in parser.feed(data):
            if isinstance(event, Oversized):
                return None, f"a message of {event.length} bytes before initialize"
            if isinstance(event, (Message, Unparsable)):
                return bytes(received), None
        if len(received) > max_body + 2 * MAX_HEADER:
            return None, f"{len(received)} bytes without a whole message"


class GuardedReads:
    """The `transport.Read` of one connection, under its `Limits`.

    The bytes `first_frame` read come first (`Handshake.replay`). Until it has
    initialized, the client must finish by its deadline and its frames stay under
    `handshake_max_body`; after it, a frame may be `MAX_BODY` and a client may stay idle
    for ever, but not stop in the middle of a frame for more than `frame_stall_s`. Before
    each read, replies the client has not read (over `write_backlog` bytes) must be read
    within `write_stall_s`. `ended` says why the reads stopped, when they did.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: FrameParser,
        limits: Limits,
        handshake: Handshake,
    ) -> None:
        self._reader, self._writer, self._parser = reader, writer, parser
        self._limits = limits
        self._replay = handshake.replay
        self._deadline = handshake.deadline
        self._initialized = handshake.initialized
        self.ended: str | None = None
        writer.transport.set_write_buffer_limits(high=limits.write_backlog)

    async def __call__(self) -> bytes:
        if self._replay:
            data, self._replay = self._replay, b""
            return data
        initialized = self._initialized()
        if initialized:
            self._parser.max_body = MAX_BODY
        if not await self._replies_read():
            return b""
        timeout: float | None = None
        reason = ""
        if not initialized:
            timeout = self._deadline - asyncio.get_running_loop().time()
            reason = "did not initialize by its deadline"
        elif self._parser.mid_frame:
            timeout = self._limits.frame_stall_s
            reason = f"left a message unfinished for {timeout:g} s"
        if timeout is not None and timeout <= 0:
            self.ended = reason
            return b""
        try:
            return await asyncio.wait_for(self._reader.read(CHUNK), timeout)
        except TimeoutError:
            self.ended = reason
            return b""

    async def _replies_read(self) -> bool:
        """Whether the replies waiting for the client are within the backlog, or come
        within it in time: until then, nothing more is read from it."""
        queued = self._writer.transport.get_write_buffer_size()
        if queued <= self._limits.write_backlog:
            return True
        try:
            await asyncio.wait_for(self._writer.drain(), self._limits.write_stall_s)
        except TimeoutError:
            self.ended = (
                f"left {queued} bytes of replies unread for {self._limits.write_stall_s:g} s"
            )
            return False
        except ConnectionError:
            return False
        return True


class TokenProtocol(StarcoderProtocol):
    """Refuses an `initialize` without the server's token or beyond `max_clients`, and a
    message over the handshake's frame limit before it, and then ends the connection. The
    host (`tcp.TcpHost`) sets `token`, `max_clients`, `connected`, `on_initialized` and
    `quota`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token: str | None = None
        self.max_clients = 0
        """Initialized connections the host takes at most (`tcp.MAX_CLIENTS`)."""
        self.connected: Callable[[], int] = lambda: 0
        """How many clients have initialized."""
        self.on_initialized: Callable[[], None] = lambda: None
        self.quota = LogQuota(log)
        """For lines any local user can repeat, shared by the host's connections."""
        self.warnings_logged = WARNINGS_LOGGED

    def receive(self, event: Event) -> None:
        if isinstance(event, Oversized) and not self.initialize_received:
            self.quota.log(logging.INFO, "closing a connection: %s before initialize", event.reason)
            self.exit_code = 1
            return
        super().receive(event)

    def receive_value(self, value: Any) -> None:
        if (
            self.initialize_received
            or not isinstance(value, dict)
            or value.get("method") != types.INITIALIZE
            or "id" not in value
        ):
            super().receive_value(value)
            return
        if self.token is not None and not self._take_token(value):
            self._close_refusing(
                value["id"],
                JsonRpcInvalidParams.CODE,
                "starcoder-ls: this server needs the token of its"
                f" --tcp-token-file in initializationOptions.{TOKEN_OPTION}",
                f"no or a wrong {TOKEN_OPTION}",
            )
            return
        if self.connected() >= self.max_clients:
            self._close_refusing(
                value["id"],
                REQUEST_FAILED,
                f"starcoder-ls: {self.max_clients} editors are connected,"
                " the most this server takes",
                f"{self.max_clients} clients connected",
            )
            return
        super().receive_value(value)
        if self.initialize_received:
            self.on_initialized()

    def _close_refusing(self, msg_id: Any, code: int, message: str, logged: str) -> None:
        self.quota.log(logging.WARNING, "initialize refused: %s; closing the connection", logged)
        self._send_data(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "error": {"code": code, "message": message, "data": {"retry": False}},
            }
        )
        self.exit_code = 1

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
        # "surrogatepass": a lone surrogate ("\ud800" is valid JSON) must not raise.
        return any(
            isinstance(value, str)
            and hmac.compare_digest(value.encode("utf-8", "surrogatepass"), expected)
            for value in given
        )
