"""Document URIs as real clients write them, turned into one identity and one path.

A document's identity is its URI as the client sent it, but clients spell the same URI in
several ways, and pygls' workspace files documents under `unquote(uri)` while a handler
receives the URI as sent:

- VS Code escapes everything outside a few characters: a space (`My%20Project`), a
  non-ASCII letter (`caf%C3%A9`) and, on Windows, the drive's colon
  (`file:///c%3A/Users/me/app.py`, for every file);
- Neovim and Emacs escape spaces and non-ASCII letters but keep the colon and the
  drive letter's case (`file:///C:/Users/me/app.py`);
- editors also open documents that are not files: `untitled:Untitled-1`, a diff view's
  `git:/home/me/proj/app.py?{...}`, a notebook cell's
  `vscode-notebook-cell:/home/me/nb.ipynb#W0sZmlsZQ%3D%3D`.

`canonical` is the one key every table of the server uses (the workspace's documents, the
scheduler, the caches, recency); `path` and `local_path` are what the deny list and
`.starcoderignore` judge. Both are computed here and nowhere else.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_to_bytes

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_DRIVE = re.compile(r"/?([A-Za-z]):(?=/|$)")
_PATH_SAFE = "/:@!$&'()*+,;=~"
"""Kept as they are in a path: the characters RFC 3986 allows there besides letters,
digits and `-._`. Everything else is escaped, so each URI has one spelling."""
_SEGMENT_SAFE = _PATH_SAFE.replace("/", "")
_QUERY_SAFE = _PATH_SAFE + "?"
_AUTHORITY_SAFE = "@:[]!$&'()*+,;=~"

LOCAL_SCHEMES = frozenset({"file", "git", "vscode-notebook-cell", "vscode-notebook"})
"""Schemes whose path is a file on this machine: VS Code's diff views (`git:`) and
notebook cells name the working-tree file in their path."""

LOCAL_HOSTS = (None, "", "localhost")


@dataclass(frozen=True)
class _Parts:
    scheme: str
    authority: str | None
    path: str
    query: str | None
    fragment: str | None


def _split(uri: str) -> _Parts | None:
    """RFC 3986's split, without `urlsplit`'s removal of tabs and line breaks (a URI is
    an identity here: two different strings must stay two documents)."""
    scheme, colon, rest = uri.partition(":")
    if not colon or len(scheme) < 2 or not _SCHEME.fullmatch(scheme):
        return None  # a one-letter "scheme" is a Windows drive: `C:\\x` is a path
    authority = None
    if rest.startswith("//"):
        end = len(rest)
        for mark in "/?#":
            found = rest.find(mark, 2)
            if found >= 0:
                end = min(end, found)
        authority, rest = rest[2:end], rest[end:]
    rest, hash_mark, fragment = rest.partition("#")
    path, question_mark, query = rest.partition("?")
    return _Parts(
        scheme.lower(),
        authority,
        path,
        query if question_mark else None,
        fragment if hash_mark else None,
    )


def _requote(part: str, safe: str) -> str:
    """`part` with every escape decoded and then escaped one way: `%3A`, `%3a` and `:`
    become `:`, `é` and `%C3%A9` become `%C3%A9`. Bytes throughout, so an escape that is
    not UTF-8 (`%FF`) and a lone surrogate stay distinct and never raise."""
    raw = unquote_to_bytes(part.encode("utf-8", "surrogatepass"))
    return quote(raw, safe=safe)


def canonical(uri: str) -> str:
    """The identity of the document at `uri`: the same string for every spelling a client
    may send (escapes in either case or none, a Windows drive letter in either case, the
    scheme in either case), different strings for different documents.

    Idempotent; a string that is not a URI at all is its own identity.
    """
    parts = _split(uri)
    if parts is None:
        return uri
    # Segment by segment: an escaped slash (`a%2Fb`) is part of a name, not a folder.
    path = "/".join(_requote(segment, _SEGMENT_SAFE) for segment in parts.path.split("/"))
    if parts.scheme == "file":
        path = _lower_drive(path)
    out = parts.scheme + ":"
    if parts.authority is not None:
        out += "//" + _requote(parts.authority, _AUTHORITY_SAFE)
    out += path
    if parts.query is not None:
        out += "?" + _requote(parts.query, _QUERY_SAFE)
    if parts.fragment is not None:
        out += "#" + _requote(parts.fragment, _QUERY_SAFE)
    return out


def path(uri: str) -> str:
    """The decoded, lexically normalised path of any URI, for judging a document by its
    name: `file:///proj/sub/../.env` -> `/proj/.env`, `git:/home/me/.env?{...}` ->
    `/home/me/.env`, `untitled:.env` -> `.env`, `file:///c%3A/Users/x` -> `/c:/Users/x`.
    A string that is not a URI is taken as a path."""
    parts = _split(uri)
    raw = uri if parts is None else parts.path
    if parts is not None and parts.scheme == "file" and parts.authority not in LOCAL_HOSTS:
        raw = "//" + parts.authority + raw  # a UNC path: file://server/share/x
    text = unquote(raw, errors="surrogateescape").replace("\\", "/")
    if not text:
        return uri
    normal = posixpath.normpath(text)
    if text.startswith("//") and not normal.startswith("//"):
        normal = "/" + normal  # normpath keeps `//` only sometimes; a UNC path keeps it
    return _lower_drive(normal) if parts is not None and parts.scheme == "file" else normal


def _lower_drive(path: str) -> str:
    """`/C:/x` -> `/c:/x`: Windows drive letters have no case, and clients differ."""
    drive = _DRIVE.match(path)
    if drive is None:
        return path
    return path[: drive.start(1)] + drive.group(1).lower() + path[drive.end(1) :]


def local_path(uri: str) -> str | None:
    """The file on this machine that the document shows, or None (an `untitled:` buffer,
    a remote file, a scheme that names no file)."""
    parts = _split(uri)
    if parts is None or parts.scheme not in LOCAL_SCHEMES:
        return None
    if parts.authority not in LOCAL_HOSTS:
        return None
    found = path(uri)
    return found if found.startswith("/") else None
