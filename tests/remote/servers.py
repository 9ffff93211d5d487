"""Small HTTP servers on 127.0.0.1 that misbehave on purpose, for the remote engine's tests.

Real sockets, so refused connections, silence, cut streams and closed connections are
the kernel's own, not mocks. Every loop is bounded (a stop flag, timeouts on every
socket), and `LoopbackServer` is a context manager that joins its threads on exit.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAIT_S = 20.0
"""Longest any handler waits on a client; nothing in a test should ever need it."""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    request_line: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Exchange:
    """One connection, after its request was read: what a handler writes to."""

    request: Recorded
    sock: socket.socket
    stopping: threading.Event
    sent_events: int = 0
    client_gone: bool = False

    def send(self, data: bytes) -> bool:
        """False once the client has closed the connection (what cancellation looks like)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.client_gone = True
            return False

    def head(self, status: int, headers: dict[str, str] | None = None) -> bool:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def chunk(self, data: bytes) -> bool:
        return self.send(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def end_chunks(self) -> bool:
        return self.send(b"0\r\n\r\n")

    def wait_for_close(self) -> None:
        """Until the client closes or the server stops (never past WAIT_S)."""
        self.sock.settimeout(0.05)
        deadline = time.monotonic() + WAIT_S
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                if not self.sock.recv(4096):
                    self.client_gone = True
                    return
            except TimeoutError:
                continue
            except OSError:
                self.client_gone = True
                return


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

Handler = Callable[[Exchange], None]


@dataclass
class LoopbackServer:
    handler: Handler
    port: int = 0
    """0 picks a free port; a given one lets a test bring a stopped engine back."""
    tls: ssl.SSLContext | None = None
    requests: list[Recorded] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        if self.tls is not None:
            sock.settimeout(WAIT_S)
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()  # the client refused our certificate: what a test may want
                return
        with sock:
            request = _read_request(sock)
            if request is None:
                return
            self.requests.append(request)
            exchange = Exchange(request, sock, self._stop)
            self.exchanges.append(exchange)
            self.handler(exchange)


def _read_request(sock: socket.socket) -> Recorded | None:
    sock.settimeout(WAIT_S)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                return None
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        while len(body) < size:
            more = sock.recv(65536)
            if not more:
                return None
            body += more
    except OSError:
        return None
    method, path, *_ = lines[0].split(" ")
    return Recorded(method, path, headers, body, lines[0])


# -- handlers ------------------------------------------------------------------------------


def routes(table: dict[str, Handler]) -> Handler:
    """Dispatch on the request path; 404 for anything else."""

    def handle(exchange: Exchange) -> None:
        path = exchange.request.path.split("?")[0]
        (table.get(path) or reply(404, {"error": f"no route {path}"}))(exchange)

    return handle


def reply(status: int, body: Any, content_type: str = "application/json") -> Handler:
    """A whole response with Content-Length; `body` as JSON unless it is bytes or str."""
    if isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()

    def handle(exchange: Exchange) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        exchange.head(status, headers) and exchange.send(data)

    return handle


def stream(
    lines: Iterable[str],
    *,
    content_type: str = "text/event-stream",
    delay: float = 0.0,
    cut_after: int | None = None,
) -> Handler:
    """Each line (an SSE event with its blank line, or one NDJSON object) as its own chunk.

    `cut_after=k` closes the connection after k lines with no final chunk: a stream cut
    halfway. A client that closes early is noticed at the next write (`client_gone`).
    """
    items = list(lines)

    def handle(exchange: Exchange) -> None:
        headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
        if not exchange.head(200, headers):
            return
        for i, line in enumerate(items):
            if cut_after is not None and i == cut_after:
                return
            if exchange.stopping.is_set() or not exchange.chunk(line.encode()):
                return
            exchange.sent_events += 1
            if delay:
                time.sleep(delay)
        exchange.end_chunks()

    return handle


def silent(exchange: Exchange) -> None:
    """Reads the request and never answers: a hung engine."""
    exchange.wait_for_close()


def sse(events: Iterable[Any], *, space: bool = True) -> list[str]:
    """SSE lines for JSON events (str events are sent as they are, e.g. "[DONE]")."""
    sep = "data: " if space else "data:"
    return [f"{sep}{e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]


def openai_events(pieces: Iterable[str], finish: str = "stop") -> list[str]:
    """An OpenAI-compatible completion stream: one text piece per event, then [DONE]."""
    events: list[Any] = [
        {"object": "text_completion", "choices": [{"index": 0, "text": p, "finish_reason": None}]}
        for p in pieces
    ]
    events.append({"choices": [{"index": 0, "text": "", "finish_reason": finish}]})
    events.append("[DONE]")
    return sse(events)


def tunnel_to(port: int) -> Handler:
    """An HTTP proxy's CONNECT: answers 200, then relays bytes to 127.0.0.1:`port`."""

    def handle(exchange: Exchange) -> None:
        if exchange.request.method != "CONNECT":
            reply(405, {"error": "CONNECT only"})(exchange)
            return
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as upstream:
            exchange.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [exchange.sock, upstream]
            deadline = time.monotonic() + WAIT_S
            while not exchange.stopping.is_set() and time.monotonic() < deadline:
                ready, _, _ = select.select(ends, [], [], 0.05)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is exchange.sock else exchange.sock).sendall(data)

    return handle


RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> list[str]:
    """A file of `recorded/` as the pieces an engine writes: SSE events (with their blank
    line) or NDJSON lines, each sent as its own chunk."""
    text = (RECORDED / name).read_text(encoding="utf-8")
    if name.endswith(".sse"):
        return [event + "\n\n" for event in text.split("\n\n") if event.strip()]
    return [line + "\n" for line in text.splitlines() if line.strip()]
