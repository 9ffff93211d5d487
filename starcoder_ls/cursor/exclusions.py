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
files (never the built-in list or the setting); `#` starts a comment. A pattern longer than
`MAX_PATTERN_CHARS` or of more than `MAX_PATTERN_PARTS` components is refused with a
warning; matching costs at most components x path depth steps, whatever the `**`.

What is judged (`uris.py` reads the URI, whatever its spelling or scheme):

- the document's path, decoded and lexically normalised (`/proj/x/../.env` is
  `/proj/.env`), for any scheme: a diff view (`git:`) or a notebook cell of a denied
  file is denied as the file is;
- where that path is a file or link on this machine, also the real file it resolves to:
  `notes.txt` linking to `~/.ssh/id_rsa` is judged as the key it is;
- `.starcoderignore` files above any absolute path (above the real file's too).
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from starcoder_ls.cursor import uris

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
MAX_PATTERN_CHARS = 1024
MAX_PATTERN_PARTS = 64
"""Longer patterns are refused: no real path needs them, and they only cost time."""


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
    """Whether the components `parts` match `pattern`, one pattern component at a time:
    `reached[j]` says the components so far can cover `parts[:j]`. Linear in each, where
    trying every split for every `**` backtracks exponentially on a pattern of many."""
    reached = [True] + [False] * len(parts)
    for head in pattern:
        if head == "**":
            seen = False
            for j, here in enumerate(reached):
                seen = seen or here
                reached[j] = seen
        else:
            reached = [False] + [
                reached[j] and fnmatch.fnmatchcase(part, head) for j, part in enumerate(parts)
            ]
        if not any(reached):
            return False
    return reached[-1]


def _matches(rule: _Rule, parts: Sequence[str]) -> bool:
    """Does `rule` exclude the file at `parts` (components relative to where it applies)?"""
    lead: tuple[str, ...] = () if rule.anchored else ("**",)
    # A folder matched by the pattern excludes everything below it, as in `.gitignore`.
    if _match_parts((*lead, *rule.parts, "**", "*"), parts):
        return True
    return not rule.directory and _match_parts((*lead, *rule.parts), parts)


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
        for path in _judged_paths(uri):
            found = self._match_path(path)
            if found is not None:
                return found
        return None

    def _match_path(self, path: str) -> str | None:
        parts = [part.lower() for part in PurePosixPath(path).parts]
        parts = [part for part in parts if part not in ("/", "//", "")]
        for rule, pattern in self._rules:
            if _matches(rule, parts):
                if pattern in self._builtin:
                    return f"{pattern!r} (built in)"
                return f"excludedFiles[{self._extra.index(pattern)}]"
        if path.startswith("/"):
            return _IGNORE_FILES.match(path)
        return None


def _judged_paths(uri: str) -> list[str]:
    """The document's own path, then the real file behind it where that differs (a link,
    or a folder on the way that is one)."""
    path = uris.path(uri)
    local = uris.local_path(uri)
    if local is None:
        return [path]
    try:
        real = os.path.realpath(local)
    except (OSError, ValueError):
        return [path]
    return [path] if real == path else [path, real]


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
                rules = _read_rules(lines, ignore_file)
        except OSError as exc:
            log.warning("cannot read %s: %s", ignore_file, exc)
            rules = ()
        with self._lock:
            self._cache[ignore_file] = (stamp, rules)
        return rules


def _read_rules(lines: Iterable[str], ignore_file: str) -> tuple[_Rule, ...]:
    rules: list[_Rule] = []
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("#"):
            continue
        rule = _rule(line, ignore_file=True)
        if rule is None:
            continue
        if len(rule.text) > MAX_PATTERN_CHARS or len(rule.parts) > MAX_PATTERN_PARTS:
            log.warning(
                "%s:%d: pattern refused: over %d characters or %d components",
                ignore_file,
                number,
                MAX_PATTERN_CHARS,
                MAX_PATTERN_PARTS,
            )
            continue
        rules.append(rule)
    return tuple(rules)


_IGNORE_FILES = _IgnoreFiles()
