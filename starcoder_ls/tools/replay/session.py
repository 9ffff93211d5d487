"""The simulated user and editor: keys, pauses, Tab, and what the editor asks and shows.

Everything happens on the event loop: the user sleeps until the schedule's next key,
answers are handled when they arrive (pygls resolves them on the loop's thread in the
order they were read), so "shown during the pause" is decided from arrival times.

Two questions need care:
- Shown: an answer counts only if nothing was typed since its request was sent (the
  editor would otherwise discard it), its first item continues the typed line, and its
  text is not blank.
- Stale: a non-empty answer for text the user has since changed is the server's fault
  only if the server knew about the change when it answered; one that crossed the
  change on the wire is not. After every change that leaves a request unanswered, a
  `starcoder.status` round trip (a fence) follows it: the server handles messages in
  order, so an answer arriving after the fence's was written after the server saw the
  change, and counts as stale; one arriving before it is only overtaken.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import Any, Protocol

from lsprotocol import types

from starcoder_ls.completion.warm import FOCUS_NOTIFICATION
from starcoder_ls.tools.driver import Driver, inline_params
from starcoder_ls.tools.replay.counters import Answered, Counters, Read
from starcoder_ls.tools.replay.editors import Edit, accepts, ghost_text, make_editor
from starcoder_ls.tools.replay.regions import Region, Typing, make_schedule, next_key

log = logging.getLogger(__name__)

STATUS_COMMAND = "starcoder.status"
REQUEST_CANCELLED = -32800


class Probe(Protocol):
    """Reads the server's counters; calls `done` with them, maybe later."""

    def read(self, done: Callable[[Counters], None]) -> None: ...


@dataclass(kw_only=True)
class Tally:
    keys: int = 0
    """Keys typed (Enter with its auto-indent is one key)."""
    accepts: int = 0
    typed_chars: int = 0
    accepted_chars: int = 0
    requests: int = 0
    cancelled: int = 0
    """Requests the editor cancelled."""
    answers: int = 0
    """Requests answered (empty or not); the others got an error, mostly "cancelled"."""
    with_items: int = 0
    errors: int = 0
    """Answers that were an error other than "request cancelled"."""
    shown: int = 0
    """Answers an editor showed (while paused or between two keys)."""
    not_continuing: int = 0
    """Current answers whose item does not continue the typed line."""
    pauses: int = 0
    pauses_shown: int = 0
    pause_latencies_ms: list[float] = field(default_factory=list)
    """From the last key before a pause to the suggestion shown in it."""
    pause_log: list[Pause] = field(default_factory=list)
    stale: int = 0
    overtaken: int = 0
    unanswered: int = 0
    """Requests still without an answer when the run ended (the server must answer all)."""
    answered: list[Answered] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)

    @property
    def keystrokes(self) -> int:
        return self.keys + self.accepts

    @property
    def pauses_missed(self) -> dict[str, int]:
        """Pauses without a suggestion, by what became of the request for the text as it
        stood: "still computing", "empty", "blank", "not continuing", "error", "no request"."""
        return dict(Counter(p.outcome for p in self.pause_log if p.outcome != "shown"))


@dataclass(kw_only=True)
class Pause:
    """One pause, for reading a run pause by pause (the JSON report)."""

    length_ms: float
    outcome: str
    """"shown", or why not (see `Tally.pauses_missed`)."""
    shown_ms: float | None = None
    """From the last key to the suggestion shown."""
    answered_ms: float | None = None
    """From the last key to the answer for the text as typed, even after the pause."""


@dataclass(kw_only=True)
class _Sent:
    id: str
    synced: int
    edits: int
    at: float
    line: int
    line_prefix: str
    cancelled: bool = False
    outcome: str | None = None
    """What the answer was, once it arrived (see `Tally.pauses_missed`)."""
    answered_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class _Shown:
    ghost: str
    command: types.Command | None
    at: float


class Session:
    """One server, one editor, the regions typed one after the other."""

    def __init__(
        self,
        driver: Driver,
        editor: str,
        *,
        typing: Typing,
        seed: int,
        probe: Probe,
    ) -> None:
        self.driver = driver
        self.editor = make_editor(editor, self)
        self.typing = typing
        self.seed = seed
        self.probe = probe
        self.tally = Tally()
        self._loop = asyncio.get_running_loop()
        self._seq = 0
        """Answers and counter reads, numbered as they arrive."""
        self._edits = 0
        """Edits made by the user, sent or not."""
        self._synced = 0
        """Document notifications sent to the server."""
        self._fenced = 0
        """`_synced` as of the last fence answered: the server had seen all of those."""
        self._unanswered: dict[str, _Sent] = {}
        self._latest: _Sent | None = None
        self._pauses_waiting: list[tuple[Pause, _Sent, float]] = []
        self._pending: set[Future[Any]] = set()
        self._shown: _Shown | None = None
        self._uri = ""
        self._text = ""
        self._cursor = 0

    # -- what the editor does ------------------------------------------------------

    def sync(self, edits: Sequence[Edit]) -> None:
        self.driver.insert(self._uri, edits)
        self._synced += 1
        self._fence()

    def ask(self) -> None:
        line, column, line_text = self._position()
        params = inline_params(self._uri, line, column, line_text)
        msg_id, future = self.driver.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params)
        sent = _Sent(
            id=msg_id,
            synced=self._synced,
            edits=self._edits,
            at=self._loop.time(),
            line=line,
            line_prefix=line_text[:column],
        )
        self._unanswered[msg_id] = sent
        self._latest = sent
        self.tally.requests += 1
        self._track(future, partial(self._answered, sent))

    def cancel_all(self) -> None:
        for sent in self._unanswered.values():
            if not sent.cancelled:
                sent.cancelled = True
                self.driver.cancel(sent.id)
                self.tally.cancelled += 1

    def focus(self) -> None:
        line, column, line_text = self._position()
        position = inline_params(self._uri, line, column, line_text).position
        params = {
            "textDocument": {"uri": self._uri},
            "position": {"line": position.line, "character": position.character},
        }
        self.driver.client.protocol.notify(FOCUS_NOTIFICATION, params)

    def execute(self, command: types.Command) -> None:
        params = types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        _, future = self.driver.request(types.WORKSPACE_EXECUTE_COMMAND, params)
        self._track(future, lambda done: None)

    # -- answers -------------------------------------------------------------------

    def _track(self, future: Future[Any], handle: Callable[[Future[Any]], None]) -> None:
        self._pending.add(future)

        def done(finished: Future[Any]) -> None:
            self._pending.discard(finished)
            handle(finished)

        future.add_done_callback(done)

    def _fence(self) -> None:
        """A round trip after a change while a request is unanswered (see the module doc)."""
        if not self._unanswered:
            return
        synced = self._synced
        params = types.ExecuteCommandParams(command=STATUS_COMMAND)
        _, future = self.driver.request(types.WORKSPACE_EXECUTE_COMMAND, params)

        def fenced(done: Future[Any]) -> None:
            self._fenced = max(self._fenced, synced)

        self._track(future, fenced)

    def _answered(self, sent: _Sent, future: Future[Any]) -> None:
        now = self._loop.time()
        sent.answered_at = now
        self._unanswered.pop(sent.id, None)
        self._seq += 1
        seq = self._seq
        error = future.exception()
        if error is None:
            self.tally.answers += 1
            result = future.result()
            items = result.items if isinstance(result, types.InlineCompletionList) else result
            if items:
                self.tally.with_items += 1
                self.tally.answered.append(Answered(seq=seq, e2e_ms=(now - sent.at) * 1000))
                sent.outcome = self._judge(sent, items[0], now)
            else:
                sent.outcome = "empty"
        elif getattr(error, "code", None) != REQUEST_CANCELLED:
            self.tally.errors += 1
            sent.outcome = "error"
            log.warning("inline completion failed: %s", error)
        else:
            sent.outcome = "cancelled"
        self.probe.read(partial(self._read_arrived, seq))

    def _judge(self, sent: _Sent, item: types.InlineCompletionItem, now: float) -> str:
        """Shows the item if the editor would; returns the answer's outcome."""
        if sent.edits != self._edits:
            if sent.synced < self._fenced:
                self.tally.stale += 1
                return "stale"
            self.tally.overtaken += 1
            return "overtaken"
        ghost = ghost_text(item, sent.line, sent.line_prefix)
        if ghost is None:
            self.tally.not_continuing += 1
            return "not continuing"
        if not ghost.strip():
            return "blank"
        if self._shown is None:
            self._shown = _Shown(ghost=ghost, command=item.command, at=now)
            self.tally.shown += 1
        return "shown"

    def _read_arrived(self, sent_seq: int, counters: Counters) -> None:
        self._seq += 1
        self.tally.reads.append(Read(sent_seq=sent_seq, seq=self._seq, counters=counters))

    async def read_counters(self) -> Counters:
        """Counters now (also a bracket for the overhead of the answers around it)."""
        arrived: asyncio.Future[Counters] = self._loop.create_future()

        def done(counters: Counters) -> None:
            self._read_arrived(sent_seq, counters)
            arrived.set_result(counters)

        sent_seq = self._seq
        self.probe.read(done)
        return await asyncio.wait_for(arrived, self.driver.timeout_s)

    # -- the user ------------------------------------------------------------------

    def _position(self) -> tuple[int, int, str]:
        text, cursor = self._text, self._cursor
        start = text.rfind("\n", 0, cursor) + 1
        end = text.find("\n", cursor)
        line_text = text[start : len(text) if end < 0 else end]
        return text.count("\n", 0, cursor), cursor - start, line_text

    def _insert(self, inserted: str) -> Edit:
        line, column, line_text = self._position()
        self._text = self._text[: self._cursor] + inserted + self._text[self._cursor :]
        self._cursor += len(inserted)
        self._edits += 1
        self._shown = None
        return line, column, line_text, inserted

    def _end_pause(self, last_key: float) -> None:
        self.tally.pauses += 1
        length_ms = (self._loop.time() - last_key) * 1000
        if self._shown is not None:
            shown_ms = (self._shown.at - last_key) * 1000
            self.tally.pauses_shown += 1
            self.tally.pause_latencies_ms.append(shown_ms)
            self.tally.pause_log.append(
                Pause(length_ms=length_ms, outcome="shown", shown_ms=shown_ms)
            )
            return
        latest = self._latest
        if latest is None or latest.edits != self._edits:
            why, latest = "no request", None
        else:
            why = latest.outcome or "still computing"
        pause = Pause(length_ms=length_ms, outcome=why)
        self.tally.pause_log.append(pause)
        if latest is not None:
            self._pauses_waiting.append((pause, latest, last_key))

    def _close_pauses(self) -> None:
        """When the answers of missed pauses came, now that they have all come."""
        for pause, sent, last_key in self._pauses_waiting:
            if sent.answered_at is not None:
                pause.answered_ms = (sent.answered_at - last_key) * 1000
        self._pauses_waiting.clear()

    async def _sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(when - self._loop.time(), 0.0))

    async def type_region(self, index: int, region: Region) -> str:
        """Retype `region`; returns the document text as the client ended with it."""
        rng = random.Random(f"{self.seed}:{index}")
        schedule = make_schedule(region.typed, self.typing, rng)
        self._uri = (PurePosixPath("/replay") / f"r{index}" / region.path).as_uri()
        self._text, self._cursor = region.before + region.after, len(region.before)
        self._shown = None
        self._edits += 1
        self.driver.set_text(self._uri, self._text)
        self._synced += 1
        await self.driver.status()  # the server has the document before the first key
        if self.editor.opened():  # a user who focuses a file reads it before the first key
            focus_rng = random.Random(f"{self.seed}:{index}:focus")  # the keys' draws unchanged
            await asyncio.sleep(focus_rng.uniform(*self.typing.pause))
        pos, last_key = 0, self._loop.time()
        while True:
            await self._sleep_until(last_key + schedule.delays[pos])
            if schedule.pauses[pos]:
                self._end_pause(last_key)
            if pos >= len(region.typed):
                break
            shown = self._shown
            if shown is not None and accepts(shown.ghost, region.typed[pos:]):
                self.editor.accepted(self._insert(shown.ghost), shown.command)
                self.tally.accepts += 1
                self.tally.accepted_chars += len(shown.ghost)
                pos += len(shown.ghost)
            else:
                key = next_key(region.typed, pos)
                self.editor.edited(self._insert(key))
                self.tally.keys += 1
                self.tally.typed_chars += len(key)
                pos += len(key)
            last_key = self._loop.time()
        self.editor.stop()
        self.driver.close(self._uri)
        self._edits += 1  # the user has left: later answers are for text no longer there
        self._synced += 1
        self._fence()
        await self._settle()
        return self._text

    async def _settle(self) -> None:
        """Wait for every answer, so that a region's requests end within it."""
        pending = [asyncio.wrap_future(f) for f in self._pending]
        if pending:
            await asyncio.wait(pending, timeout=self.driver.timeout_s)

    async def run(self, regions: Sequence[Region]) -> Tally:
        for index, region in enumerate(regions):
            text = await self.type_region(index, region)
            if text != region.original:
                raise RuntimeError(f"replay of {region.path}:{region.line + 1} went astray")
        await self._settle()
        self._close_pauses()
        self.tally.unanswered = len(self._unanswered)
        return dataclasses.replace(self.tally)
