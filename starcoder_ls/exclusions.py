"""Files that are never completed and never shown to the model as context.

A completion request sends the document to the model, and cross-file context copies the
other open documents into the prompt: an open `.env` or private key would end up in a
prompt (and, with a remote engine, on another machine) for nothing, since no completion
in such a file is worth that. So a deny list of glob patterns is checked before anything
else is done with a document: the built-in `BUILT_IN` list, the `excludedFiles` setting
added to it, and `.starcoderignore` files in the document's folder and the folders above.

Pattern rules (kept to what a user expects from `.gitignore`, matched case-insensitively,
so that `Secrets.YAML` on a case-insensitive file system is caught too):

- no `/` (`*.pem`, `.env`): a file name, in any folder;
- a `/` inside (`.aws/credentials`): the last components of the path;
- a trailing `/` (`.ssh/`): every file below a folder of that name (and a pattern
  without one matches a folder too, and so every file below it);
- `*`, `?` and `[...]` match within one component, `**` any number of components.

In a `.starcoderignore` a pattern with a `/` at its start or inside is anchored to that
file's folder, as in `.gitignore`; `!pattern` takes back an earlier pattern of the ignore
files (never the built-in list or the setting); `#` starts a comment.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

BUILT_IN: tuple[str, ...] = (
    # environment files: tokens, passwords, connection strings
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    # private keys and key stores
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    ".ssh/",
    ".gnupg/",
    # credential stores of common tools
    ".aws/",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".git-credentials",
    ".htpasswd",
    ".docker/config.json",
    ".kube/config",
    "credentials.json",
    "*.tfvars",
    "*.tfstate",
    "*.tfstate.*",
    # files named for what they hold
    "secrets.*",
    "secret.*",
    "*.secret",
    "*.secrets",
)
"""Excluded whatever the settings say (`excludedFiles` adds to this list)."""

IGNORE_FILE = ".starcoderignore"
"""Per-folder ignore file, in `.gitignore` syntax, read from the document's folder up."""


@dataclass(frozen=True)
class _Rule:
    parts: tuple[str, ...]
    """Lower-cased pattern components; `**` stands for any number of components."""
    directory: bool
    """Written with a trailing `/`: matches only what lies below a folder of that name."""
    anchored: bool
    negated: bool = False
    text: str = ""


def _rule(pattern: str, *, ignore_file: bool = False) -> _Rule | None:
    text = pattern.strip()
    negated = ignore_file and text.startswith("!")
    body = text[1:] if negated else text
    directory = body.endswith("/")
    body = body.strip("/") if ignore_file else body.rstrip("/").removeprefix("/")
    if not body:
        return None
    anchored = ignore_file and "/" in text.removeprefix("!").rstrip("/")
    parts = tuple(part for part in body.lower().split("/") if part)
    return _Rule(parts, directory, anchored, negated, text)


def _match_parts(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(rest, parts[1:])


def _matches(rule: _Rule, parts: Sequence[str]) -> bool:
    """Does `rule` exclude the file at `parts` (components relative to where it applies)?"""
    lead: tuple[str, ...] = () if rule.anchored else ("**",)
    # A folder matched by the pattern excludes everything below it, as in `.gitignore`.
    if _match_parts((*lead, *rule.parts, "**", "*"), parts):
        return True
    return not rule.directory and _match_parts((*lead, *rule.parts), parts)


def document_path(uri: str) -> str:
    """The path of a document URI (`file:///a/.env` -> `/a/.env`); other schemes keep
    their path part, so that `untitled:.env` is still matched by name."""
    parts = urlsplit(uri)
    if not parts.scheme:
        return uri
    return unquote(parts.path) or uri


class DenyList:
    """The built-in patterns plus extra ones; `match` says which one excludes a document."""

    def __init__(self, extra: Sequence[str] = ()) -> None:
        self.patterns = tuple(dict.fromkeys((*BUILT_IN, *extra)))
        self._builtin = frozenset(BUILT_IN)
        self._extra = list(extra)
        self._rules = [(rule, p) for p in self.patterns if (rule := _rule(p)) is not None]

    def match(self, uri: str) -> str | None:
        """Why the document at `uri` is excluded, or None when it may be completed and
        used as context. The reason goes to the log: it names a built-in pattern or an
        ignore file's line, but only the position of an `excludedFiles` pattern, since
        setting values stay out of the log."""
        path = document_path(uri)
        parts = [part.lower() for part in PurePosixPath(path.replace("\\", "/")).parts]
        parts = [part for part in parts if part not in ("/", "")]
        for rule, pattern in self._rules:
            if _matches(rule, parts):
                if pattern in self._builtin:
                    return f"{pattern!r} (built in)"
                return f"excludedFiles[{self._extra.index(pattern)}]"
        if urlsplit(uri).scheme == "file":
            return _IGNORE_FILES.match(path)
        return None


@functools.lru_cache(maxsize=16)
def deny_list(extra: tuple[str, ...] = ()) -> DenyList:
    """The deny list for the `excludedFiles` setting (one per distinct value)."""
    return DenyList(extra)


class _IgnoreFiles:
    """`.starcoderignore` rules by folder, read again when a file's mtime or size changes.

    A check costs one `stat` per folder above the document: cheap next to building a
    prompt, and it sees an ignore file the user has just written.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], tuple[_Rule, ...]]] = {}

    def match(self, path: str) -> str | None:
        found: str | None = None
        folders = list(PurePosixPath(path).parents)[::-1]  # the root first: deeper files win
        for folder in folders:
            ignore_file = str(folder / IGNORE_FILE)
            rules = self._rules(ignore_file)
            if not rules:
                continue
            relative = [part.lower() for part in PurePosixPath(path).relative_to(folder).parts]
            for rule in rules:
                if _matches(rule, relative):
                    found = None if rule.negated else f"{rule.text!r} ({ignore_file})"
        return found

    def _rules(self, ignore_file: str) -> tuple[_Rule, ...]:
        try:
            stat = os.stat(ignore_file)
        except OSError:
            return ()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(ignore_file)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(ignore_file, encoding="utf-8", errors="replace") as lines:
                rules = tuple(
                    rule
                    for line in lines
                    if not line.lstrip().startswith("#")
                    and (rule := _rule(line, ignore_file=True)) is not None
                )
        except OSError as exc:
            log.warning("cannot read %s: %s", ignore_file, exc)
            rules = ()
        with self._lock:
            self._cache[ignore_file] = (stamp, rules)
        return rules


_IGNORE_FILES = _IgnoreFiles()
