"""What the server's log says of each request: its mode, the tokens it generated, why the
generation stopped.

The answer over LSP carries only the text; the cost of a request (a multi-line request
that runs to `maxNewTokens` when one line is kept) is in the log, one `info` line per
fact. The harness asks one request at a time, so the lines written since the previous
read belong to the request just answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_GENERATED = re.compile(r"request (\d+): generated ([\d/]+) tokens in (\d+) ms \(([^)]*)\)")
_MODE = re.compile(r"request (\d+): (single-line|multi-line), (\d+) prompt tokens")
_REFUSED = re.compile(r"request (\d+): no completion: (.*)$")
_CACHE_HIT = re.compile(r"request (\d+): cache hit")
_SKIP_REASON = "no completion makes sense at this position"


@dataclass(frozen=True, kw_only=True)
class Generation:
    """One request as the log tells it; fields the log did not give stay None."""

    mode: str | None = None
    """"single-line", "multi-line", or "skip" where the trigger declined."""
    tokens: int | None = None
    """Tokens the model generated for the first (shown) choice; None without a generation."""
    stop_reason: str | None = None
    """"eos", "stop" (a stop string) or "length" (`maxNewTokens` reached)."""
    generate_ms: float | None = None
    prompt_tokens: int | None = None
    cache_hit: bool = False
    refused: str = ""
    """Why the server showed nothing, in its own words."""


def parse(lines: list[str]) -> Generation:
    """The first request's facts among `lines` (the log since the previous request)."""
    facts: dict[str, object] = {}
    rid: str | None = None
    for line in lines:
        for pattern in (_GENERATED, _MODE, _REFUSED, _CACHE_HIT):
            found = pattern.search(line)
            if found is None:
                continue
            if rid is None:
                rid = found.group(1)
            if found.group(1) != rid:
                break
            if pattern is _GENERATED:
                facts.setdefault("tokens", int(found.group(2).split("/")[0]))
                facts.setdefault("generate_ms", float(found.group(3)))
                facts.setdefault("stop_reason", found.group(4).split("/")[0])
            elif pattern is _MODE:
                facts["mode"] = found.group(2)
                facts["prompt_tokens"] = int(found.group(3))
            elif pattern is _CACHE_HIT:
                facts["cache_hit"] = True
            else:
                reason = found.group(2).strip()
                facts["refused"] = reason
                if reason == _SKIP_REASON:
                    facts["mode"] = "skip"
            break
    return Generation(**facts)  # type: ignore[arg-type]


class ServerLog:
    """Reads a log file from where the previous read stopped (the server appends to it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._offset += end
        return data[:end].decode("utf-8", "replace").splitlines()

    def take(self) -> Generation:
        """The facts of the request answered since the previous call."""
        return parse(self.new_lines())
