"""Completions worth reusing instead of running the model again.

Two kinds of reuse, both bounded in entries (LRU) and in age (TTL):

* exact: the same prompt with the same generation parameters, e.g. the cursor
  moved back or the editor asked twice. Keys hold a digest of the prompt, not the
  prompt, so a large document is not kept in memory a second time.
* typed ahead: the user types the first characters of the completion on screen.
  The rest of it is still the model's answer, so it is offered again at once.
  Again only digests of the document text are kept.

Owned by the event loop; not thread-safe. Call `clear()` when the model changes,
since every stored answer belongs to the previous model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from cachetools import TTLCache

TYPED_AHEAD_CLOSERS = frozenset(")]}>\"'`")
"""Characters editors insert after the cursor and let the user type over: typing may
consume them without the rest of the document changing (see `_suffix_follows`)."""
_MAX_CLOSERS = 16


def digest(text: str) -> bytes:
    """A 16-byte fingerprint of `text`, for keys and comparisons that need not keep it."""
    # surrogatepass: LSP text may carry lone surrogates, which are still valid str.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def make_key(prompt: str, **params: Hashable) -> Hashable:
    """Cache key for a prompt and the generation parameters that shape its answer.

    Raises `TypeError` here, rather than at lookup, when a parameter is unhashable.
    """
    key = (digest(prompt), tuple(sorted(params.items())))
    hash(key)
    return key


@dataclass(frozen=True, kw_only=True)
class Place:
    """A cursor in a document, reduced to digests and lengths: what a later cursor must
    share with it to be this place with text typed on (`typed_since`)."""

    prefix_len: int
    prefix_digest: bytes
    closers: str
    """Leading auto-closed characters of the suffix, which typing may consume."""
    rest_len: int
    rest_digest: bytes
    """The suffix after `closers`, which must be unchanged."""

    @classmethod
    def of(cls, prefix: str, suffix: str) -> Place:
        closers = _leading_closers(suffix)
        rest = suffix[len(closers) :]
        return cls(
            prefix_len=len(prefix),
            prefix_digest=digest(prefix),
            closers=closers,
            rest_len=len(rest),
            rest_digest=digest(rest),
        )

    def typed_since(self, prefix: str, suffix: str) -> str | None:
        """The text typed at this place to reach the cursor `prefix`|`suffix`; None when
        anything else changed. The suffix may only have lost leading auto-closed
        characters that the typed text holds in the same order (the editor typed over
        them)."""
        if len(prefix) < self.prefix_len:
            return None
        typed = prefix[self.prefix_len :]
        if digest(prefix[: self.prefix_len]) != self.prefix_digest:
            return None
        return typed if _suffix_follows(self, suffix, typed) else None


@dataclass(frozen=True, kw_only=True)
class _Shown:
    """What was on screen for a document: its place and the completions shown there."""

    place: Place
    choices: tuple[str, ...]
    longest: int


class CompletionCache:
    """Exact-prompt cache plus the last completions shown per document.

    `maxsize` bounds the exact entries (0 disables them), `max_documents` the
    documents remembered for typed-ahead reuse; `ttl_s` applies to both.
    """

    def __init__(
        self,
        *,
        maxsize: int = 256,
        ttl_s: float = 600,
        max_documents: int = 64,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 0 or max_documents < 0:
            raise ValueError("maxsize and max_documents must not be negative")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")
        self._exact: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_s, timer=timer)
        self._shown: TTLCache = TTLCache(maxsize=max_documents, ttl=ttl_s, timer=timer)

    def get(self, key: Hashable) -> tuple[str, ...] | None:
        return self._exact.get(key)

    def put(self, key: Hashable, choices: tuple[str, ...]) -> None:
        """Store a finished generation; a cancelled one is partial and must not be stored."""
        if self._exact.maxsize:
            self._exact[key] = tuple(choices)

    def remember(self, uri: str, prefix: str, suffix: str, choices: tuple[str, ...]) -> None:
        """Record the completions just shown at this cursor, replacing the previous ones."""
        self.remember_at(uri, Place.of(prefix, suffix), choices)

    def remember_at(self, uri: str, place: Place, choices: tuple[str, ...]) -> None:
        """`remember`, at a place already reduced to digests."""
        if not self._shown.maxsize:
            return
        if not any(choices):
            self._shown.pop(uri, None)
            return
        self._shown[uri] = _Shown(
            place=place, choices=tuple(choices), longest=max(map(len, choices))
        )

    def typed_ahead(self, uri: str, prefix: str, suffix: str) -> tuple[str, ...] | None:
        """The rest of each remembered completion the user has started to type, in order.

        The new prefix must be the remembered one plus typed text `t`, and some
        completion must start with `t` and go beyond it. The suffix must be the
        remembered one, except that leading auto-closed characters may be gone
        when `t` contains them in the same order: the editor typed over them.
        Any other change to the suffix returns None, because the remainders were
        generated for the old text after the cursor.
        """
        shown: _Shown | None = self._shown.get(uri)
        if shown is None or len(prefix) < shown.place.prefix_len:
            return None
        typed = prefix[shown.place.prefix_len :]
        if len(typed) >= shown.longest:
            return None
        remainders = tuple(
            choice[len(typed) :]
            for choice in shown.choices
            if len(choice) > len(typed) and choice.startswith(typed)
        )
        if not remainders or shown.place.typed_since(prefix, suffix) is None:
            return None
        return remainders

    def forget(self, uri: str) -> None:
        self._shown.pop(uri, None)

    def sizes(self) -> dict[str, int]:
        """Entries held and their bounds, so a long run can show they stay bounded."""
        return {
            "exact": len(self._exact),
            "exactMax": int(self._exact.maxsize),
            "shown": len(self._shown),
            "shownMax": int(self._shown.maxsize),
        }

    def clear(self) -> None:
        self._exact.clear()
        self._shown.clear()


def _leading_closers(suffix: str) -> str:
    count = 0
    while count < min(len(suffix), _MAX_CLOSERS) and suffix[count] in TYPED_AHEAD_CLOSERS:
        count += 1
    return suffix[:count]


def _suffix_follows(shown: Place, suffix: str, typed: str) -> bool:
    consumed = len(shown.closers) + shown.rest_len - len(suffix)
    if not 0 <= consumed <= len(shown.closers):
        return False
    kept = shown.closers[consumed:]
    if not suffix.startswith(kept) or digest(suffix[len(kept) :]) != shown.rest_digest:
        return False
    remaining = iter(typed)
    return all(closer in remaining for closer in shown.closers[:consumed])
