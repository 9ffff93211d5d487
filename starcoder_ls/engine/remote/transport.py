"""HTTP for the remote engines, on httpx: how a request travels, and what its failures say.

Each request gets a client of its own, made here (`client_options`), so that nothing stays
open between requests and a cancelled call's connection is closed, never reused: closing
it is how the serving engines learn to stop generating. Certificates are always verified
(`tls`: the system's CA store, or `caBundle`'s). The proxy is the environment's
(`http_proxy`, `https_proxy`, `no_proxy`; a CONNECT tunnel for https), read by
`urls.proxy_for`, which also keeps loopback addresses direct; httpx is given it
explicitly. HTTP/2 where the `h2` package is installed and the engine offers it (TLS).

Everything a server sends is bounded: a streamed line by `MAX_LINE`, an error body by
`MAX_ERROR_BODY`, silence by the read timeout; the client bounds the whole call.
httpx's own exceptions become `TransportError`s whose words name the engine's address.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from starcoder_ls.engine.remote.urls import Endpoint, ProxyProblem, proxy_for

MAX_ERROR_BODY = 64 * 1024
MAX_LINE = 1024 * 1024
"""Longest line of a streamed body (one SSE event or NDJSON object). An engine's last
event may repeat the whole completion (TGI's `generated_text`): for thousands of tokens
of escaped or non-ASCII text, near 64 KiB. A MiB leaves room, and still bounds the
memory and time one line takes."""
HTTP2 = importlib.util.find_spec("h2") is not None


class TransportError(Exception):
    """No usable answer: `kind` is "refused", "dns", "timeout", "tls", "proxy" or "protocol"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Route:
    """How one request travels: to `target`, directly or through `proxy`."""

    target: Endpoint
    proxy: Endpoint | None
    proxy_url: str | None

    @classmethod
    def to(cls, url: str) -> Route:
        target = Endpoint.parse(url)
        try:
            proxy_url = proxy_for(url)
        except ProxyProblem as exc:
            raise TransportError("proxy", str(exc)) from None
        proxy = Endpoint.parse(proxy_url) if proxy_url else None
        return cls(target, proxy, proxy_url)

    @property
    def first_hop(self) -> str:
        """Where the connection goes: the proxy, when there is one."""
        return (self.proxy or self.target).authority

    @property
    def peer(self) -> str:
        """Who answers: the proxy forwards plain http; a tunnel carries the engine's own."""
        if self.proxy is not None and self.target.scheme == "http":
            return self.proxy.authority
        return self.target.authority


@functools.cache
def system_tls() -> ssl.SSLContext:
    """The system's CA store, read once (httpx's own default would be certifi's)."""
    return ssl.create_default_context()


def client_options(
    route: Route, *, connect_timeout: float, read_timeout: float, tls: ssl.SSLContext | None
) -> dict[str, Any]:
    """Keyword arguments of `httpx.Client` / `httpx.AsyncClient` for one request."""
    return {
        "verify": tls or system_tls(),
        "proxy": route.proxy_url,
        "trust_env": False,  # the proxy is the environment's, chosen above; no .netrc
        "http2": HTTP2,
        "follow_redirects": False,
        "headers": {"Accept-Encoding": "identity"},  # a compressed stream arrives in bursts
        "timeout": httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ),
    }


@contextlib.contextmanager
def mapped(route: Route, *, connect_timeout: float, read_timeout: float) -> Iterator[None]:
    """httpx's failures as `TransportError`s in our words."""
    try:
        yield
    except httpx.ProxyError as exc:
        address = f"{route.target.host}:{route.target.port}"
        raise TransportError(
            "proxy", f"proxy {route.first_hop} refused a tunnel to {address}: {exc}"
        ) from None
    except (httpx.ConnectTimeout, httpx.PoolTimeout):
        raise TransportError(
            "timeout", f"no connection to {route.first_hop} within {connect_timeout:g} s"
        ) from None
    except httpx.ReadTimeout:
        raise TransportError(
            "timeout", f"{route.peer} sent nothing for {read_timeout:g} s"
        ) from None
    except httpx.WriteTimeout:
        raise TransportError(
            "timeout", f"{route.peer} took the request for longer than {read_timeout:g} s"
        ) from None
    except httpx.ConnectError as exc:
        raise _connect_problem(exc, route) from None
    except httpx.RemoteProtocolError as exc:
        raise _protocol_problem(exc, route.peer) from None
    except httpx.TransportError as exc:  # read and write errors, decoding, ...
        raise TransportError("protocol", f"{route.peer} broke the connection: {exc}") from None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _connect_problem(exc: httpx.ConnectError, route: Route) -> TransportError:
    where = route.first_hop
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TransportError(
                "tls",
                f"the TLS certificate of {route.target.authority} could not be verified "
                f"({cause.verify_message}); if your own CA signed it, set starcoder.caBundle "
                "to that CA's PEM file",
            )
        if isinstance(cause, ssl.SSLError):
            return TransportError(
                "tls", f"TLS handshake with {route.target.authority} failed: {cause}"
            )
        if isinstance(cause, ConnectionRefusedError):
            return TransportError("refused", f"connection to {where} refused (is it running?)")
        if type(cause).__name__ == "gaierror":
            host = (route.proxy or route.target).host
            reason = getattr(cause, "strerror", None) or cause
            return TransportError("dns", f"cannot resolve {host}: {reason}")
    cause = exc.__cause__ or exc
    reason = getattr(cause, "strerror", None) or cause
    return TransportError("refused", f"cannot connect to {where}: {reason}")


def _protocol_problem(exc: httpx.RemoteProtocolError, peer: str) -> TransportError:
    text = str(exc)
    if text.startswith("illegal status line"):
        status_line = text.partition(": ")[2]
        if status_line.startswith("bytearray(b") and status_line.endswith(")"):
            status_line = status_line[len("bytearray(b") + 1 : -2]
        return TransportError("protocol", f"{peer} did not answer in HTTP: {status_line[:80]!r}")
    if "Content-Length" in text or "content-length" in text:
        return TransportError("protocol", f"{peer} sent a bad Content-Length")
    if "incomplete" in text or "without sending" in text or "closed" in text:
        return TransportError(
            "protocol", f"{peer} closed the connection in the middle of a response"
        )
    return TransportError("protocol", f"{peer} broke the HTTP protocol: {text}")


async def lines(response: httpx.Response, peer: str, limit: int = MAX_LINE) -> AsyncIterator[str]:
    """The body split into lines (for SSE and NDJSON), without their line ends.

    Each byte is looked at once, however the line is cut into pieces; a line over `limit`
    bytes is a TransportError, raised as soon as that many have come.
    """
    pending = bytearray()
    async for data in response.aiter_bytes():
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            pending += data[start:end]
            _check_line(pending, limit, peer)
            yield _decoded(pending)
            pending.clear()
            start = end + 1
        pending += data[start:]
        _check_line(pending, limit, peer)
    if pending:
        yield _decoded(pending)


def _decoded(line: bytearray) -> str:
    if line.endswith(b"\r"):
        del line[-1:]
    return line.decode("utf-8", errors="replace")


def _check_line(pending: bytearray, limit: int, peer: str) -> None:
    if len(pending) > limit:
        shown = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"
        raise TransportError(
            "protocol",
            f"{peer} sent a line over {shown} (a stream has one line per event); the "
            "response was not read further",
        )


async def first_bytes(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """The body's first `limit` bytes; the rest is not read."""
    body = bytearray()
    async for data in response.aiter_bytes():
        body += data
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def fetch(
    url: str,
    headers: dict[str, str],
    *,
    timeouts: tuple[float, float],
    tls: ssl.SSLContext | None,
    deadline: float,
) -> tuple[int, bytes]:
    """GET `url` (blocking): the status and the body's first MiB. `timeouts` are the connect
    and read timeouts; `deadline` (a `time.monotonic()` value) ends a body that never does."""
    route = Route.to(url)
    connect, read = timeouts
    options = client_options(route, connect_timeout=connect, read_timeout=read, tls=tls)
    limit = 1 << 20
    with (
        mapped(route, connect_timeout=connect, read_timeout=read),
        httpx.Client(**options) as client,
        client.stream("GET", route.target.url, headers=headers) as response,
    ):
        body = bytearray()
        for data in response.iter_bytes():
            body += data
            if len(body) >= limit:
                break
            if time.monotonic() >= deadline:
                raise TransportError(
                    "timeout", f"the response of {route.peer} did not end by its deadline"
                )
        return response.status_code, bytes(body[:limit])
