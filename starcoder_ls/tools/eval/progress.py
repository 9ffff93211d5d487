"""A progress line on stderr: rewritten in place on a terminal, one line per tenth otherwise
(so a log file of a long run stays readable)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._step = max(total // 10, 1)

    def update(self, done: int, note: str = "") -> None:
        if not self.tty and done % self._step and done != self.total:
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.total - done) if done else 0.0
        line = f"{self.label} {done}/{self.total}  {_clock(elapsed)} elapsed, ~{_clock(eta)} left"
        if note:
            line += f"  {note}"
        if self.tty:
            self.stream.write(f"\r\x1b[K{line}")
            if done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
