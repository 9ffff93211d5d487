"""Speculative prefetch after an accepted suggestion: what the accepted command carries,
when the server knows the document shows the insertion, and the service computing the
next completion so that the editor's request after Tab costs no engine call."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from lsprotocol import types

from starcoder_ls.completion.prefetch import (
    Acceptances,
    Accepted,
    accepted_from,
    command_arguments,
    where_to_prefetch,
)
from starcoder_ls.completion.request import CompletionRequest
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.base import EngineError, GenerationParams, GenerationResult
from starcoder_ls.lsp import conversions
from starcoder_ls.text.types import Mode, Suggestion
from tests.support.cursor import ctx_from
from tests.support.fake_engine import FakeEngine, Gate, request_from, serving

URI = "file:///work/example.py"
BEFORE = "def add(a, b):\n    return █\n\nprint(add(1, 2))\n"
AFTER = "def add(a, b):\n    return a + b█\n\nprint(add(1, 2))\n"
"""`BEFORE` once the editor has inserted the first suggestion: the place of the next request."""
NEXT = "  # the sum of a and b"


def reply(prompt: str, params: GenerationParams) -> list[str]:
    return ["a + b"] if prompt.endswith("return ") else [NEXT]


# -- the accepted command's arguments ---------------------------------------------------


def test_arguments_round_trip() -> None:
    arguments = command_arguments(URI, 0, 7, 3, 12)
    assert accepted_from(arguments) == Accepted(uri=URI, version=7, line=3, character=12)


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        [{"uri": URI, "index": 0}],  # an item from before prefetch
        [{"uri": URI, "version": 1, "line": 0, "character": -1}],
        [{"uri": URI, "version": True, "line": 0, "character": 0}],
        [{"uri": 5, "version": 1, "line": 0, "character": 0}],
        ["file:///work/example.py"],
    ],
    ids=["none", "no-position", "negative", "bool", "uri-not-text", "not-an-object"],
)
def test_arguments_without_a_usable_position_ask_for_nothing(arguments: list[object]) -> None:
    assert accepted_from(arguments) is None


def end(marked: str, text: str, encoding: str, *, start_back: int = 0) -> types.Position:
    ctx = ctx_from(marked)
    start = ctx.character - start_back
    suggestion = Suggestion(text=text, character=start, end_character=ctx.character)
    return conversions.end_of_insertion(ctx, suggestion, encoding)


def test_the_end_of_a_one_line_insertion_counts_the_line_before_it() -> None:
    marked = "x = '😀'.█)\n"
    inserted = "x = '😀'.upper()"  # 15 code points, the emoji two utf-16 units, four bytes
    assert end(marked, "upper()", "utf-32") == types.Position(line=0, character=len(inserted))
    assert end(marked, "upper()", "utf-16") == types.Position(line=0, character=16)
    assert end(marked, "upper()", "utf-8") == types.Position(line=0, character=18)


def test_a_replaced_word_ends_where_the_new_text_ends() -> None:
    # the popup item replaces "su" by "sum(xs)"
    assert end("total = su█\n", "sum(xs)", "utf-16", start_back=2) == types.Position(
        line=0, character=len("total = sum(xs)")
    )


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_the_end_of_a_block_is_on_its_last_line(eol: str) -> None:
    block = eol.join(["result = a + b", "    return 'é' + result"])
    assert end("def add(a, b):\n    █\n", block, "utf-8") == types.Position(
        line=2, character=len("    return 'é' + result".encode())
    )


def test_every_item_says_where_its_insertion_ends() -> None:
    ctx = ctx_from("def add(a, b):\n    return █\n", uri=URI, version=4)
    found = [
        Suggestion(text="a + b", character=ctx.character, end_character=ctx.character),
        Suggestion(text="b + a\n", character=ctx.character, end_character=ctx.character),
    ]
    inline = conversions.inline_list(ctx, found, "utf-16", URI)
    assert [item.command.arguments for item in inline.items] == [
        command_arguments(URI, 0, 4, 1, len("    return a + b")),
        command_arguments(URI, 1, 4, 2, 0),
    ]
    popup = conversions.completion_item(ctx, found[0], "fake", 0, "utf-16")
    assert popup.command is not None
    assert accepted_from(popup.command.arguments or []) == Accepted(
        uri=URI, version=4, line=1, character=len("    return a + b")
    )


# -- waiting for the document to show the insertion ------------------------------------


def accepted(version: int) -> Accepted:
    return Accepted(uri=URI, version=version, line=1, character=16)


def test_a_document_past_the_items_version_already_shows_the_insertion() -> None:
    acceptances = Acceptances()
    assert acceptances.accepted(accepted(3), current_version=4) == accepted(3)
    assert len(acceptances) == 0


def test_an_acceptance_before_the_change_waits_for_it() -> None:
    acceptances = Acceptances()
    assert acceptances.accepted(accepted(3), current_version=3) is None
    assert acceptances.changed("file:///work/other.py", 4) is None
    assert acceptances.changed(URI, 3) is None  # not past the item's version yet
    assert acceptances.changed(URI, 4) == accepted(3)
    assert acceptances.changed(URI, 5) is None  # only the first change


def test_closing_or_an_unknown_document_drops_the_acceptance() -> None:
    acceptances = Acceptances()
    assert acceptances.accepted(accepted(3), current_version=None) is None
    assert acceptances.accepted(accepted(3), current_version=3) is None
    acceptances.closed(URI)
    assert acceptances.changed(URI, 4) is None


# -- the service ---------------------------------------------------------------------


@asynccontextmanager
async def serving_versions(
    engine: FakeEngine, settings: Settings | None = None
) -> AsyncIterator[tuple[CompletionService, dict[str, int]]]:
    """A loaded service whose documents' versions the test moves (`versions[uri]`)."""
    versions = {URI: 1}
    async with serving(
        engine, settings or Settings(debounce_ms=0), current_version=versions.get
    ) as service:
        yield service, versions


async def accept_first(service: CompletionService, versions: dict[str, int]) -> None:
    """Ask at `BEFORE`, then have the editor insert the answer (version 2)."""
    shown = (await service.complete(request_from(BEFORE, uri=URI))).suggestions
    assert [s.text for s in shown] == ["a + b"]
    versions[URI] = 2
    service.document_changed(URI, 2)


async def prefetch_after_accepting(
    service: CompletionService, versions: dict[str, int]
) -> asyncio.Task[None]:
    """`accept_first`, then the prefetch its accepted command starts at `AFTER`."""
    await accept_first(service, versions)
    task = service.prefetch(request_from(AFTER, uri=URI, version=2))
    assert task is not None
    return task


async def test_the_request_after_acceptance_is_answered_by_the_prefetch() -> None:
    engine = FakeEngine(reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await task  # the prefetch has filled the caches
        assert len(engine.calls) == 2
        assert engine.calls[1][0].endswith("return a + b")

        answer = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in answer.suggestions] == [NEXT]
        assert len(engine.calls) == 2, "the request after acceptance made no engine call"
        again = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in again.suggestions] == [NEXT]
    stats = service.stats.to_json()
    assert stats["prefetches"] == 1
    assert stats["prefetchHits"] == 1, "a prefetch counts once however often it answers"
    assert stats["requests"] == 3 and stats["modelCalls"] == 2


async def test_the_exact_cache_answers_once_the_memory_moved_on() -> None:
    """The prefetch's entry in the exact cache still answers after a request elsewhere
    replaced the typed-ahead memory (the user looked away and came back)."""
    engine = FakeEngine(reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await task  # the prefetch has filled the caches
        elsewhere = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))█\n"
        await service.complete(request_from(elsewhere, uri=URI, version=2))
        calls = len(engine.calls)
        answer = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in answer.suggestions] == [NEXT]
        assert len(engine.calls) == calls
    assert service.stats.prefetch_hits == 1


async def test_typing_the_prefetched_text_is_a_hit() -> None:
    engine = FakeEngine(reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await task  # the prefetch has filled the caches
        versions[URI] = 3
        service.document_changed(URI, 3)
        typed = AFTER.replace("█", "  #█")
        answer = await service.complete(request_from(typed, uri=URI, version=3))
        assert [s.text for s in answer.suggestions] == [NEXT.removeprefix("  #")]
        assert len(engine.calls) == 2
    assert service.stats.prefetch_hits == 1


class CancelRecordingEngine(FakeEngine):
    """Keeps each call's cancel flag, to see the service stop a generation."""

    def __init__(self, reply: Callable[[str, GenerationParams], list[str]]) -> None:
        super().__init__(reply)
        self.cancels: list[threading.Event] = []

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event, **kwargs: object
    ) -> GenerationResult:
        self.cancels.append(cancel)
        return super().generate(prompt, params, cancel, **kwargs)


@pytest.fixture
def gate() -> Gate:
    """Holds the engine inside the call that follows `accept_first` until released."""
    return Gate(reply, holds=lambda prompt: not prompt.endswith("return "))


async def test_a_request_at_the_prefetched_place_waits_for_it_instead_of_repeating_it(
    gate: Gate,
) -> None:
    engine = CancelRecordingEngine(gate.reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await gate.entered()
        request = asyncio.ensure_future(service.complete(request_from(AFTER, uri=URI, version=2)))
        await asyncio.sleep(0)
        assert not request.done()
        gate.release.set()
        answer = await request
        await task
    assert [s.text for s in answer.suggestions] == [NEXT]
    assert len(engine.calls) == 2
    assert service.stats.prefetch_hits == 1


async def test_a_request_elsewhere_supersedes_the_prefetch(gate: Gate) -> None:
    engine = CancelRecordingEngine(gate.reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await gate.entered()
        cancel = engine.cancels[-1]
        elsewhere = "def add(a, b):\n    return a + b\n\nprint(█)\n"
        request = asyncio.ensure_future(service.complete(request_from(elsewhere, uri=URI)))
        await asyncio.sleep(0)
        assert cancel.is_set(), "the prefetch was told to stop"
        gate.release.set()
        await task
        await request
        calls = len(engine.calls)
        await service.complete(request_from(AFTER, uri=URI, version=2))
        assert len(engine.calls) == calls + 1, "the cancelled prefetch stored nothing"
    assert service.stats.prefetches == 1 and service.stats.prefetch_hits == 0


async def test_a_change_of_the_document_cancels_the_prefetch(gate: Gate) -> None:
    engine = CancelRecordingEngine(gate.reply)
    async with serving_versions(engine) as (service, versions):
        task = await prefetch_after_accepting(service, versions)
        await gate.entered()
        versions[URI] = 3
        service.document_changed(URI, 3)
        assert engine.cancels[-1].is_set()
        gate.release.set()
        await task
        assert service.cache.typed_ahead(URI, *AFTER.split("█")) is None


DOWN = "vLLM at http://gpu:8000 returned 503: Loading model"


def down_error(retry_after_s: float) -> EngineError:
    """What a remote engine that is down raises, every time it is asked."""
    return EngineError(DOWN, retry=True, retry_after_s=retry_after_s)


class Down(FakeEngine):
    """Fails as a remote engine does: while `down`, every call raises `DOWN`, asking for
    `retry_after_s` of back-off (what the user sees of it is the service's decision)."""

    def __init__(self, reply: Callable[[str, GenerationParams], list[str]]) -> None:
        super().__init__(reply)
        self.down = False
        self.retry_after_s = 0.0

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event, **kwargs: object
    ) -> GenerationResult:
        if not self.down:
            return super().generate(prompt, params, cancel, **kwargs)
        self.calls.append((prompt, params))
        raise down_error(self.retry_after_s)


async def test_a_failing_prefetch_leaves_its_error_for_the_next_request_to_show(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = Down(reply)
    async with serving_versions(engine) as (service, versions):
        await accept_first(service, versions)
        engine.down = True
        caplog.set_level(logging.DEBUG, logger="starcoder_ls.completion")
        task = service.prefetch(request_from(AFTER, uri=URI, version=2))
        assert task is not None
        await task  # ends quietly
        assert len(engine.calls) == 2, "the engine raised its error to the prefetch"
        assert service.status.state == "ready", "a prefetch shows nothing, not even a status"
        records = [r for r in caplog.records if "prefetch" in r.getMessage()]
        warned = [r.getMessage() for r in records if r.levelno == logging.WARNING]
        assert warned and not any("503" in message for message in warned)
        assert any(DOWN in r.getMessage() for r in records if r.levelno == logging.DEBUG)

        with pytest.raises(EngineError, match="503: Loading model"):
            await service.complete(request_from(AFTER, uri=URI, version=2))
        assert (service.status.state, service.status.message) == ("error", DOWN)
        again = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert again.suggestions == [], "shown once: the same error again is quiet"
        assert service.status.state == "error", "a failed call is no sign the engine works"

        engine.down = False
        answer = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in answer.suggestions] == [NEXT]
        assert service.status.state == "ready"
    assert len(engine.calls) == 5


async def test_a_prefetch_error_shows_once_through_the_back_off() -> None:
    """Within the back-off the engine is not asked: the first request shows the error the
    prefetch kept, the next one gets nothing; past it, the engine answers again."""
    engine = Down(reply)
    engine.retry_after_s = 10.0
    now = [0.0]
    async with serving_versions(engine) as (service, versions):
        service.failures.clock = lambda: now[0]
        await accept_first(service, versions)
        engine.down = True
        task = service.prefetch(request_from(AFTER, uri=URI, version=2))
        assert task is not None
        await task
        with pytest.raises(EngineError, match="503: Loading model"):
            await service.complete(request_from(AFTER, uri=URI, version=2))
        quiet = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert quiet.suggestions == [] and service.status.state == "error"
        assert len(engine.calls) == 2, "not asked within the back-off"

        engine.down = False
        now[0] = 10.0
        answer = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in answer.suggestions] == [NEXT]
        assert service.status.state == "ready"
    assert len(engine.calls) == 3


async def test_a_prefetch_error_is_dropped_once_the_engine_answers() -> None:
    """An answer ends the failure: the prefetch's error is not shown later, and a new
    failure is a new one, told again."""
    engine = Down(reply)
    async with serving_versions(engine) as (service, versions):
        await accept_first(service, versions)
        engine.down = True
        task = service.prefetch(request_from(AFTER, uri=URI, version=2))
        assert task is not None
        await task
        engine.down = False
        answer = await service.complete(request_from(AFTER, uri=URI, version=2))
        assert [s.text for s in answer.suggestions] == [NEXT]
        assert service.status.state == "ready"
        engine.down = True
        elsewhere = "def add(a, b):\n    return a + b\n\nprint(█)\n"
        with pytest.raises(EngineError, match="503: Loading model"):
            await service.complete(request_from(elsewhere, uri=URI, version=2))
        quiet = await service.complete(request_from(elsewhere, uri=URI, version=2))
        assert quiet.suggestions == [] and service.status.state == "error"
    assert len(engine.calls) == 5


async def test_no_prefetch_when_it_is_off_or_nothing_would_be_asked() -> None:
    engine = FakeEngine(reply)
    off = Settings(debounce_ms=0, prefetch=False)
    async with serving_versions(engine, off) as (service, versions):
        await accept_first(service, versions)
        assert service.prefetch(request_from(AFTER, uri=URI, version=2)) is None
        service.update_settings(Settings(debounce_ms=0))
        mid_word = "def add(a, b):\n    ret█urn a + b\n"
        assert service.prefetch(request_from(mid_word, uri=URI, version=2)) is None
        past_the_end = request_from(AFTER, uri=URI, version=2)
        assert service.prefetch(_moved(past_the_end, line=99)) is None
    assert len(engine.calls) == 1
    assert service.stats.prefetches == 0


def _moved(request: CompletionRequest, *, line: int) -> CompletionRequest:
    return dataclasses.replace(request, line=line)


@pytest.mark.parametrize(
    ("settings", "marked", "line", "not_ready", "reason"),
    [
        (Settings(prefetch=False), AFTER, None, None, "prefetch is off"),
        (Settings(enabled=False), AFTER, None, None, "disabled"),
        (Settings(), AFTER, None, "model not ready: loading", "model not ready"),
        (Settings(), AFTER, 99, None, "past the end"),
        (Settings(), "def add(a, b):\n    ret█urn a + b\n", None, None, "no completion makes"),
    ],
    ids=["off", "disabled", "not-ready", "past-the-end", "mid-word"],
)
def test_where_to_prefetch_says_why_not(
    settings: Settings, marked: str, line: int | None, not_ready: str | None, reason: str
) -> None:
    request = request_from(marked, uri=URI, version=2)
    if line is not None:
        request = _moved(request, line=line)
    found = where_to_prefetch(request, settings, not_ready=not_ready)
    assert isinstance(found, str) and reason in found


def test_where_to_prefetch_gives_the_automatic_request_at_the_place() -> None:
    found = where_to_prefetch(request_from(AFTER, uri=URI, version=2), Settings(), not_ready=None)
    assert not isinstance(found, str)
    ctx, mode = found
    assert ctx.line_prefix == "    return a + b" and ctx.version == 2
    assert mode is Mode.SINGLE_LINE


def test_prefetch_is_a_boolean_setting_on_by_default() -> None:
    assert Settings().prefetch is True
    assert merge(Settings(), {"prefetch": False}).settings.prefetch is False
    result = merge(Settings(), {"prefetch": "yes"})
    assert result.settings.prefetch is True and "prefetch" in result.errors[0]
