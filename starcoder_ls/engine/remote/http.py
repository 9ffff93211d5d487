"""Streaming HTTP/1.1 on plain sockets, for the remote engines.

Why not `http.client` or `urllib`: a completion must stop as soon as the editor has moved
on, which means closing the socket between two chunks of a stream, and the engine's
single worker thread cannot wait for a whole read timeout first. `http.client` reads
through a buffered file object that is unusable after one read timeout, so it can only
block. Here every read waits at most `POLL_S`, then looks at the cancel flag and at how
long the server has been silent, and reads again.

Only what the engines need: one request per connection (`Connection: close`), bodies
framed by Content-Length, chunked encoding or the end of the connection, TLS with
verification, and the `http_proxy` / `https_proxy` / `no_proxy` environment variables
(an HTTP proxy; CONNECT tunnels for https). Loopback addresses never go through a proxy.

Credentials in a URL never go into the request line or `Host`: the caller turns them
into a header (`basic_authorization`), and `masked_url` is how a URL is shown.

Everything a server sends is bounded: the head and each line by size, the whole
response by an optional deadline (`DeadlinePassed`), so that an engine that never stops
sending cannot hold the caller; lines and chunks are read in time linear in their size.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

POLL_S = 0.05
"""Longest wait on a socket before the cancel flag is looked at again."""
MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 64 * 1024
MAX_LINE = 1024 * 1024
"""Longest line of a streamed body (one SSE event or NDJSON object). An engine's last
event may repeat the whole completion (TGI's `generated_text`): for thousands of tokens
of escaped or non-ASCII text, near the head's 64 KiB. A MiB leaves room, and still
bounds the memory and time one line takes."""


class TransportError(Exception):
    """No usable answer: `kind` is "refused", "dns", "timeout", "tls", "proxy" or "protocol"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Cancelled(Exception):
    """The cancel flag was set; the connection is closed."""


class DeadlinePassed(TransportError):
    """The response went on past the deadline the caller gave (`request(deadline=...)`)."""

    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")


def masked_url(url: str) -> str:
    """`url` fit to be shown: `http://user:***@host/...`, or `***@` for a user alone (it
    may be a token); any text that is not such a URL is returned as it is."""
    match = _USERINFO.match(url)
    if match is None:
        return url
    user, colon, _ = match.group(2).partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{match.group(1)}{shown}@{url[match.end() :]}"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    """Path and query, starting with "/"."""
    user: str = ""
    """Percent-decoded, as is `password`."""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urllib.parse.urlsplit(url.strip())
        shown = masked_url(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{shown!r} is not an http:// or https:// URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"{shown!r} has an invalid port") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        user, _, password = parts.netloc.rpartition("@")[0].partition(":")
        unquote = urllib.parse.unquote
        return cls(parts.scheme, parts.hostname, port, path, unquote(user), unquote(password))

    @property
    def has_credentials(self) -> bool:
        return bool(self.user or self.password)

    def basic_credentials(self) -> str:
        """base64 of `user:password`, for `Authorization: Basic` (RFC 7617)."""
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def basic_authorization(url: str) -> str | None:
    """The `Authorization` header's value for the credentials in `url`, if it has any."""
    try:
        target = Target.parse(url)
    except ValueError:
        return None
    return f"Basic {target.basic_credentials()}" if target.has_credentials else None


def proxy_for(target: Target) -> Target | None:
    """The proxy the environment names for `target`, unless `no_proxy` or loopback excludes it."""
    if is_loopback(target.host):
        return None
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(target.scheme)
    if not url or urllib.request.proxy_bypass_environment(target.host, proxies):
        return None
    if "://" not in url:
        url = "http://" + url
    try:
        proxy = Target.parse(url)
    except ValueError as exc:
        raise TransportError("proxy", f"{target.scheme}_proxy: {exc}") from None
    if proxy.scheme != "http":
        raise TransportError("proxy", f"{masked_url(url)}: only http:// proxies are supported")
    return proxy


class Connection:
    """A socket read in short waits, so that a cancel flag closes it within `POLL_S`."""

    def __init__(
        self,
        sock: socket.socket,
        cancel: threading.Event,
        read_timeout: float,
        deadline: float | None = None,
    ) -> None:
        self._sock = sock
        self._cancel = cancel
        self._read_timeout = read_timeout
        self._deadline = deadline
        """`time.monotonic()` after which nothing more is read."""
        self._buffer = b""
        self._eof = False
        self.peer = ""

    def send(self, data: bytes) -> None:
        self._sock.settimeout(self._read_timeout)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise TransportError(
                "timeout", f"{self.peer} took the request for longer than {self._read_timeout:g} s"
            ) from None
        except OSError as exc:
            raise TransportError("protocol", f"{self.peer} closed the connection: {exc}") from None

    def _fill(self) -> bool:
        """Append what arrives next to the buffer; False at the end of the connection."""
        if self._eof:
            return False
        self._sock.settimeout(POLL_S)
        silent_until = time.monotonic() + self._read_timeout
        while True:
            if self._cancel.is_set():
                raise Cancelled()
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise DeadlinePassed(f"the response of {self.peer} did not end by its deadline")
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                if time.monotonic() >= silent_until:
                    raise TransportError(
                        "timeout", f"{self.peer} sent nothing for {self._read_timeout:g} s"
                    ) from None
                continue
            except ssl.SSLError as exc:
                raise TransportError("tls", f"TLS error reading from {self.peer}: {exc}") from None
            except OSError as exc:
                raise TransportError(
                    "protocol", f"{self.peer} broke the connection: {exc}"
                ) from None
            if not data:
                self._eof = True
                return False
            self._buffer += data
            return True

    def read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise TransportError("protocol", f"{self.peer} sent a line over {MAX_HEAD} bytes")
            if not self._fill():
                raise _cut(self.peer)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def read_some(self, limit: int | None = None) -> bytes:
        """Buffered bytes (at most `limit`), else the next arrival; b"" at the end of the
        connection."""
        if not self._buffer:
            self._fill()
        if limit is None or len(self._buffer) <= limit:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:limit], self._buffer[limit:]
        return data

    def has_buffered(self) -> bool:
        return bool(self._buffer)

    @property
    def socket(self) -> socket.socket:
        return self._sock

    def close(self) -> None:
        self._sock.close()


def _decode_line(line: bytearray) -> str:
    if line.endswith(b"\r"):
        del line[-1:]
    return line.decode("utf-8", errors="replace")


def _cut(peer: str) -> TransportError:
    return TransportError("protocol", f"{peer} closed the connection in the middle of a response")


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    """Lower-cased names."""
    connection: Connection

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives, de-chunked, in pieces of at most what one read brings
        (a chunk is never gathered whole: its size is the sender's word); raises
        TransportError if it is cut short."""
        conn = self.connection
        encoding = self.headers.get("transfer-encoding", "").lower()
        if "chunked" in encoding:
            while True:
                size_line = conn.read_line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    size = -1
                if size < 0:
                    raise TransportError(
                        "protocol", f"{conn.peer} sent a bad chunk size {size_line[:20]!r}"
                    )
                if size == 0:
                    while conn.read_line():
                        pass  # trailers
                    return
                yield from self._exactly(size)
                conn.read_line()
        elif "content-length" in self.headers:
            text = self.headers["content-length"]
            if not (text.isascii() and text.isdigit()):
                raise TransportError(
                    "protocol", f"{conn.peer} sent a bad Content-Length {text[:20]!r}"
                )
            yield from self._exactly(int(text))
        else:
            while data := conn.read_some():
                yield data

    def _exactly(self, size: int) -> Iterator[bytes]:
        conn = self.connection
        while size > 0:
            data = conn.read_some(size)
            if not data:
                raise _cut(conn.peer)
            size -= len(data)
            yield data

    def lines(self, limit: int = MAX_LINE) -> Iterator[str]:
        """The body split into lines (for SSE and NDJSON), without their line ends.

        Each byte is looked at once, however the line is cut into pieces; a line over
        `limit` bytes is a TransportError, raised as soon as that many have come.
        """
        pending = bytearray()
        for data in self.chunks():
            start = 0
            while (end := data.find(b"\n", start)) >= 0:
                pending += data[start:end]
                self._check_line(pending, limit)
                yield _decode_line(pending)
                pending.clear()
                start = end + 1
            pending += data[start:]
            self._check_line(pending, limit)
        if pending:
            yield _decode_line(pending)

    def _check_line(self, pending: bytearray, limit: int) -> None:
        if len(pending) > limit:
            shown = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
            raise TransportError(
                "protocol",
                f"{self.connection.peer} sent a line over {shown} (a stream has one line "
                "per event); the response was not read further",
            )

    def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The body's first `limit` bytes; the rest is not read."""
        body = bytearray()
        for data in self.chunks():
            body += data
            if len(body) >= limit:
                break
        return bytes(body[:limit])

    def close(self) -> None:
        self.connection.close()


def request(
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: Mapping[str, str],
    cancel: threading.Event,
    connect_timeout: float,
    read_timeout: float,
    tls: ssl.SSLContext | None = None,
    deadline: float | None = None,
) -> Response:
    """Send one request and read the response's head; the caller reads the body and closes.

    `deadline` (a `time.monotonic()` value) ends every read after it with
    `DeadlinePassed`: the longest a whole response may take, however steadily the server
    sends. Credentials in `url` are not sent from here (see `basic_authorization`).
    """
    target = Target.parse(url)
    if cancel.is_set():
        raise Cancelled()
    proxy = proxy_for(target)
    hop = proxy or target
    conn = Connection(_connect(hop, connect_timeout), cancel, read_timeout, deadline)
    conn.peer = hop.authority
    try:
        if proxy is not None and target.scheme == "https":
            _tunnel(conn, proxy, target)
        if target.scheme == "https":
            conn = _start_tls(conn, target, tls, connect_timeout, cancel, read_timeout, deadline)
        lines = [
            f"{method} {target.url if proxy and target.scheme == 'http' else target.path} HTTP/1.1",
            f"Host: {target.authority}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        if proxy is not None and target.scheme == "http" and proxy.has_credentials:
            lines.append(_proxy_auth(proxy))
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        return _read_head(conn, method)
    except BaseException:
        conn.close()
        raise


def _connect(hop: Target, timeout: float) -> socket.socket:
    where = hop.authority
    try:
        return socket.create_connection((hop.host, hop.port), timeout=timeout)
    except socket.gaierror as exc:
        raise TransportError("dns", f"cannot resolve {hop.host}: {exc.strerror}") from None
    except TimeoutError:
        raise TransportError("timeout", f"no connection to {where} within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise TransportError("refused", f"connection to {where} refused (is it running?)") from None
    except OSError as exc:
        raise TransportError(
            "refused", f"cannot connect to {where}: {exc.strerror or exc}"
        ) from None


def _tunnel(conn: Connection, proxy: Target, target: Target) -> None:
    address = f"{target.host}:{target.port}"
    lines = [f"CONNECT {address} HTTP/1.1", f"Host: {address}"]
    if proxy.has_credentials:
        lines.append(_proxy_auth(proxy))
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head = _read_head(conn, "CONNECT")
    if head.status != 200 or conn.has_buffered():
        raise TransportError(
            "proxy",
            f"proxy {proxy.authority} refused a tunnel to {address}: {head.status} {head.reason}",
        )


def _start_tls(
    conn: Connection,
    target: Target,
    tls: ssl.SSLContext | None,
    timeout: float,
    cancel: threading.Event,
    read_timeout: float,
    deadline: float | None,
) -> Connection:
    context = tls or ssl.create_default_context()
    raw = conn.socket
    raw.settimeout(timeout)
    try:
        sock = context.wrap_socket(raw, server_hostname=target.host)
    except ssl.SSLCertVerificationError as exc:
        raise TransportError(
            "tls",
            f"the TLS certificate of {target.authority} could not be verified "
            f"({exc.verify_message}); if your own CA signed it, set starcoder.caBundle "
            "to that CA's PEM file",
        ) from None
    except TimeoutError:
        raise TransportError(
            "timeout", f"no TLS handshake with {target.authority} within {timeout:g} s"
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise TransportError(
            "tls", f"TLS handshake with {target.authority} failed: {exc}"
        ) from None
    tls_conn = Connection(sock, cancel, read_timeout, deadline)
    tls_conn.peer = target.authority
    return tls_conn


def _proxy_auth(proxy: Target) -> str:
    return f"Proxy-Authorization: Basic {proxy.basic_credentials()}"


def _read_head(conn: Connection, method: str) -> Response:
    while True:
        status_line = conn.read_line().decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise TransportError(
                "protocol", f"{conn.peer} did not answer in HTTP: {status_line[:80]!r}"
            )
        headers: dict[str, str] = {}
        size = 0
        while line := conn.read_line():
            size += len(line)
            if size > MAX_HEAD:
                raise TransportError("protocol", f"{conn.peer} sent headers over {MAX_HEAD} bytes")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if not 100 <= int(code) < 200:
            break
    response = Response(int(code), reason.strip(), headers, conn)
    if method in ("HEAD", "CONNECT") or response.status in (204, 304):
        response.headers["content-length"] = "0"
        response.headers.pop("transfer-encoding", None)
    return response
