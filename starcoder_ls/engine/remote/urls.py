"""Endpoint and proxy URLs: what they name, and how they are shown.

Credentials in a URL never go into a request line or `Host`: the client turns them into
a header (`Endpoint.basic_authorization`), and `masked_url` is how a URL is shown, in
messages and in the log at every level.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

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


class ProxyProblem(ValueError):
    """The environment names a proxy that cannot be used; the message is masked."""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    path: str
    """Path and query, starting with "/"."""
    user: str = ""
    """Percent-decoded, as is `password`."""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """ValueError, with the URL masked, for anything but an http(s) URL with a host."""
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

    def basic_authorization(self) -> str | None:
        """The `Authorization` header's value for the URL's credentials (RFC 7617)."""
        if not self.has_credentials:
            return None
        pair = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {pair}"

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL without its credentials."""
        return f"{self.scheme}://{self.authority}{self.path}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_without_credentials(url: str) -> str:
    """`url` as sent: its user and password go into a header, never the request."""
    try:
        return Endpoint.parse(url).url
    except ValueError:
        return url


def basic_authorization(url: str) -> str | None:
    """The `Authorization` header's value for the credentials in `url`, if it has any."""
    try:
        return Endpoint.parse(url).basic_authorization()
    except ValueError:
        return None


def proxy_for(url: str) -> str | None:
    """The proxy URL the environment names for `url` (`http_proxy`, `https_proxy`), unless
    `no_proxy` or a loopback host excludes it; `ProxyProblem` for one that cannot be used
    (only http:// proxies are; CONNECT tunnels carry https)."""
    target = Endpoint.parse(url)
    if is_loopback(target.host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(target.scheme)
    if not proxy or urllib.request.proxy_bypass_environment(target.host, proxies):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    try:
        parsed = Endpoint.parse(proxy)
    except ValueError as exc:
        raise ProxyProblem(f"{target.scheme}_proxy: {exc}") from None
    if parsed.scheme != "http":
        raise ProxyProblem(f"{masked_url(proxy)}: only http:// proxies are supported")
    return proxy
