"""How the server reads its client and how the process leaves.

pygls reads stdin on its thread pool and leaves by `sys.exit` from the `exit` handler.
Here instead:

- One read loop (`HardenedLanguageServer.serve`) for stdin and for each TCP connection:
  bytes go through `framing.FrameParser` to `StarcoderProtocol.receive` until `exit` or
  the end of input; then the requests still running are cancelled, so that each sets its
  generation's cancel flag, and the server's own work (the engine) is stopped.
- stdin is read on a daemon thread (`_ThreadedReader`): a client that sends `exit` but
  keeps stdin open cannot keep the process alive.
- The process leaves by `leave`, after the other threads (the engine's worker) had a
  moment to finish: a thread still inside torch at interpreter exit aborts the process
  (`terminate called without an active exception`).
- SIGINT (Ctrl-C in the terminal an editor or `make serve` runs in) and SIGTERM stop
  serving on stdio as the end of input does, and the process leaves with 128 + the
  signal's number (130, 143), as a shell reports a program a signal ended. Before the
  loop serves, while leaving, and at a second signal, the process leaves at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from starcoder_ls.lsp.framing import FrameParser
from starcoder_ls.lsp.protocol import StarcoderProtocol

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
EXIT_GRACE_S = 0.5
"""How long the other threads (the engine's worker) get to finish after the last message
before the process leaves without them (a model still loading cannot be interrupted)."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Read = Callable[[], Awaitable[bytes]]
"""The next bytes from the client; b"" at the end of input."""


class HardenedLanguageServer(LanguageServer):
    """`LanguageServer` on `StarcoderProtocol`, with its own read loop and a clean exit."""

    def __init__(self, name: str, version: str, **kwargs: Any) -> None:
        kwargs.setdefault("protocol_cls", StarcoderProtocol)
        super().__init__(name, version, **kwargs)

    protocol: StarcoderProtocol

    def before_exit(self) -> None:
        """Stop background work (the engine); the process leaves right after. Override."""

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        leave_on_signals()
        reader = _ThreadedReader(stdin or sys.stdin.buffer)
        code = asyncio.run(self._serve_until_signalled(reader.read))
        self.stop_thread_pool()
        leave(code, spare=(reader.thread,))

    async def _serve_until_signalled(self, read: Read) -> int:
        """`serve`, unless SIGINT or SIGTERM comes first: then the requests and the engine
        stop as at the end of input, and the exit code is the signal's (`signal_code`).

        Not `loop.add_signal_handler`: closing the loop puts back Python's own SIGINT
        handler, and a Ctrl-C while leaving would raise `KeyboardInterrupt` again.
        """
        loop = asyncio.get_running_loop()
        signalled: asyncio.Future[int] = loop.create_future()

        def settle(signum: int) -> None:
            if not signalled.done():
                signalled.set_result(signum)

        _on_signals(lambda signum: loop.call_soon_threadsafe(settle, signum))
        serving = asyncio.ensure_future(self.serve(read))
        try:
            await asyncio.wait((serving, signalled), return_when=asyncio.FIRST_COMPLETED)
        finally:
            leave_on_signals()
        if serving.done():
            return serving.result()
        signum = signalled.result()
        log.info("stopping: %s", signal.Signals(signum).name)
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await self._stop_work()
        return signal_code(signum)

    def start_tcp(self, host: str, port: int) -> None:
        """Not pygls' one-connection TCP server, whose reader skips the checks here."""
        raise NotImplementedError("serve --tcp runs tcp.run: one server per connection")

    async def serve(self, read: Read, parser: FrameParser | None = None) -> int:
        """Read, frame and dispatch until `exit` or the end of input; then stop the
        work. Returns the exit code: `exit`'s, or 0 when the client just went away.
        `parser`: a TCP connection's, whose limits change once it is initialized."""
        parser = parser or FrameParser()
        protocol = self.protocol
        try:
            while protocol.exit_code is None:
                data = await read()
                if not data:
                    log.info("the client closed the connection")
                    break
                for event in parser.feed(data):
                    protocol.receive(event)
                    if protocol.exit_code is not None:
                        break
        except ConnectionError as exc:
            log.info("the client is gone: %s", exc)
        await self._stop_work()
        return 0 if protocol.exit_code is None else protocol.exit_code

    def stop_thread_pool(self) -> None:
        """pygls' pool (its synchronous handlers) takes no more work; nothing waits for it."""
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)

    async def _stop_work(self) -> None:
        """Cancel the requests still running, so each sets its generation's cancel flag."""
        for future in list(self.protocol._request_futures.values()):
            future.cancel()
        for _ in range(3):
            await asyncio.sleep(0)  # let the cancelled handlers run their cleanup
        try:
            self.before_exit()
        except Exception:
            log.exception("stopping the engine failed")


def leave(code: int, *, spare: Collection[threading.Thread] = ()) -> NoReturn:
    """Give the other threads (the engine's worker) a moment to finish, then leave.

    The process ends with `os._exit` once the log and stdout are flushed: with torch
    loaded the interpreter's own finalisation takes seconds, and it aborts the process
    (`terminate called without an active exception`) when a daemon thread is still
    inside native code, as the worker is while a generation or a load runs. `spare`:
    threads not worth waiting for (the stdin reader, blocked in a read). A signal meanwhile
    leaves at once (`leave_on_signals`).
    """
    leave_on_signals()
    deadline = time.monotonic() + EXIT_GRACE_S
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.current_thread() and thread not in spare
    ]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [thread.name for thread in others if thread.is_alive()]
    if running:
        log.info("leaving while still running: %s", ", ".join(running))
    log.info("exiting with code %d", code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def signal_code(signum: int) -> int:
    """The exit code after a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def leave_on_signals() -> None:
    """From now on SIGINT and SIGTERM end the process at once, with `signal_code`.

    For the moments when nothing needs stopping first (starting, leaving) or when the
    user insists (a second Ctrl-C). Without it a Ctrl-C raises `KeyboardInterrupt`: a
    traceback, then the interpreter's finalisation, which aborts while a daemon thread
    holds stdin's or stderr's lock ("Fatal Python error: _enter_buffered_busy") or is
    inside torch ("terminate called without an active exception").
    """
    _on_signals(None)


def _on_signals(stop: Callable[[int], None] | None) -> None:
    """SIGINT and SIGTERM call `stop` (once: the next one leaves at once), or leave at
    once. The handler writes nothing: it may run inside a write to the same stream. A
    signal ignored since the start stays ignored (a shell's background job: Ctrl-C is not
    for it)."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers: a server embedded in a test

    def handle(signum: int, frame: object) -> None:
        nonlocal stop
        first, stop = stop, None
        if first is None:
            os._exit(signal_code(signum))
        first(signum)

    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # as a background job: not ours
            signal.signal(sig, handle)


class _ThreadedReader:
    """Reads a blocking stream on a daemon thread, one chunk per `read()`.

    pygls reads stdin on its thread pool, whose threads the interpreter joins at exit: a
    client that sends `exit` but keeps stdin open would keep the process alive.
    """

    def __init__(self, stream: BinaryIO) -> None:
        read1 = getattr(stream, "read1", None)
        self._read: Callable[[int], bytes] = read1 or (lambda n: os.read(stream.fileno(), n))
        self._requests: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes]]]
        self._requests = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="starcoder-ls-stdin", daemon=True)
        self.thread.start()

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._requests.put((loop, future))
        return await future

    def _run(self) -> None:
        while True:
            loop, future = self._requests.get()
            try:
                data = self._read(CHUNK)
            except (OSError, ValueError) as exc:
                log.info("stdin closed: %s", exc)
                data = b""
            try:
                loop.call_soon_threadsafe(_resolve, future, data)
            except RuntimeError:
                return  # the loop is gone: the server is leaving
            if not data:
                return


def _resolve(future: asyncio.Future[bytes], data: bytes) -> None:
    if not future.done():
        future.set_result(data)


def setup_logging(level: str, log_file: Path | None) -> None:
    """Logs go to stderr or a file: stdout carries the protocol.

    Progress bars are off too: editors log a server's stderr as errors, and loading
    progress reaches the client as `$/progress` instead.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level != "debug":
        # pygls logs whole messages (document text included) at info and debug.
        logging.getLogger("pygls").setLevel(logging.WARNING)
