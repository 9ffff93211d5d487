"""Scheduler behaviour on a fake clock: no test here waits for real time."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from starcoder_ls.completion.scheduler import Scheduler, Ticket

URI = "file:///project/a.py"
OTHER = "file:///project/b.py"
IDS = itertools.count(1)


class FakeTime:
    """A clock that moves only when the test says so, and a sleep that follows it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.requested: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.requested.append(delay)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + delay, future))
        await future

    @property
    def pending(self) -> int:
        return sum(not future.done() for _, future in self._sleepers)

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in self._sleepers:
            if deadline <= self.now + 1e-9 and not future.done():
                future.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        await settle()


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def scheduler(fake: FakeTime) -> Scheduler:
    return Scheduler(debounce_ms=100, clock=fake.clock, sleep=fake.sleep)


def start(scheduler: Scheduler, ticket: Ticket, *, skip: bool = False) -> asyncio.Task[bool]:
    return asyncio.ensure_future(scheduler.debounce(ticket, skip=skip))


@pytest.mark.asyncio
async def test_debounce_waits_the_configured_time(fake: FakeTime, scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    task = start(scheduler, ticket)
    await settle()
    assert fake.requested == [pytest.approx(0.1)]
    await fake.advance(0.05)
    assert not task.done()
    await fake.advance(0.05)
    assert task.done()
    assert task.result() is True


@pytest.mark.asyncio
async def test_time_before_debounce_counts_towards_it(fake: FakeTime, scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    fake.now += 0.03
    task = start(scheduler, ticket)
    await settle()
    assert fake.requested == [pytest.approx(0.07)]
    await fake.advance(0.07)
    assert task.result() is True


@pytest.mark.asyncio
async def test_no_wait_when_the_window_has_already_passed(
    fake: FakeTime, scheduler: Scheduler
) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    fake.now += 0.5
    assert await scheduler.debounce(ticket) is True
    assert fake.requested == []


@pytest.mark.asyncio
async def test_newer_request_supersedes_and_wakes_the_older(
    fake: FakeTime, scheduler: Scheduler
) -> None:
    first = scheduler.begin(URI, 1, next(IDS))
    first_task = start(scheduler, first)
    await fake.advance(0.04)
    second = scheduler.begin(URI, 2, next(IDS))
    second_task = start(scheduler, second)
    await settle()
    assert first.cancelled
    assert not second.cancelled
    assert first_task.done()
    assert first_task.result() is False
    await fake.advance(0.06)
    assert not second_task.done()
    await fake.advance(0.04)
    assert second_task.result() is True
    assert fake.pending == 0


@pytest.mark.asyncio
async def test_cancel_sets_the_event_and_ends_the_wait(
    fake: FakeTime, scheduler: Scheduler
) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    task = start(scheduler, ticket)
    await settle()
    scheduler.cancel(ticket)
    await settle()
    assert ticket.cancel.is_set()
    assert ticket.cancelled
    assert task.result() is False
    assert fake.pending == 0


@pytest.mark.asyncio
async def test_event_set_elsewhere_is_seen_after_the_wait(
    fake: FakeTime, scheduler: Scheduler
) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    task = start(scheduler, ticket)
    await settle()
    ticket.cancel.set()
    await fake.advance(0.1)
    assert task.result() is False


@pytest.mark.asyncio
async def test_skip_does_not_wait(fake: FakeTime, scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    assert await scheduler.debounce(ticket, skip=True) is True
    assert fake.requested == []


@pytest.mark.asyncio
async def test_skip_still_reports_a_cancelled_ticket(scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    scheduler.cancel(ticket)
    assert await scheduler.debounce(ticket, skip=True) is False
    assert await scheduler.debounce(ticket) is False


@pytest.mark.asyncio
async def test_zero_debounce_does_not_sleep(fake: FakeTime) -> None:
    scheduler = Scheduler(debounce_ms=0, clock=fake.clock, sleep=fake.sleep)
    assert await scheduler.debounce(scheduler.begin(URI, 1, next(IDS))) is True
    assert fake.requested == []


@pytest.mark.asyncio
async def test_debounce_ms_changes_at_runtime(fake: FakeTime, scheduler: Scheduler) -> None:
    scheduler.debounce_ms = 300
    task = start(scheduler, scheduler.begin(URI, 1, next(IDS)))
    await settle()
    assert fake.requested == [pytest.approx(0.3)]
    await fake.advance(0.3)
    assert task.result() is True


@pytest.mark.parametrize("value", [-1, 1.5, True, "100"])
def test_invalid_debounce_ms_is_rejected(fake: FakeTime, value: object) -> None:
    with pytest.raises(ValueError, match="debounce_ms"):
        Scheduler(debounce_ms=value, clock=fake.clock, sleep=fake.sleep)  # type: ignore[arg-type]


def test_version_change_cancels_the_ticket(scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 3, next(IDS))
    scheduler.document_changed(URI, 3)
    assert not ticket.cancelled
    scheduler.document_changed(URI, 4)
    assert ticket.cancelled
    assert not scheduler.is_current(ticket, 3)


def test_is_current_needs_the_same_version_and_no_cancel(scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 3, next(IDS))
    assert scheduler.is_current(ticket, 3)
    assert not scheduler.is_current(ticket, 4)
    assert not scheduler.is_current(ticket, None)
    scheduler.cancel(ticket)
    assert not scheduler.is_current(ticket, 3)


def test_documents_do_not_interfere(scheduler: Scheduler) -> None:
    a = scheduler.begin(URI, 1, next(IDS))
    b = scheduler.begin(OTHER, 1, next(IDS))
    scheduler.document_changed(OTHER, 2)
    scheduler.document_closed("file:///project/never-opened.py")
    assert b.cancelled
    assert not a.cancelled
    assert scheduler.is_current(a, 1)


@pytest.mark.asyncio
async def test_superseding_one_document_leaves_the_other_waiting(
    fake: FakeTime, scheduler: Scheduler
) -> None:
    a = start(scheduler, scheduler.begin(URI, 1, next(IDS)))
    b = start(scheduler, scheduler.begin(OTHER, 1, next(IDS)))
    await settle()
    scheduler.begin(OTHER, 2, next(IDS))
    await settle()
    assert b.result() is False
    assert not a.done()
    await fake.advance(0.1)
    assert a.result() is True


def test_document_closed_cancels_and_forgets(scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    scheduler.document_closed(URI)
    assert ticket.cancelled
    assert len(scheduler) == 0


def test_ticket_fields(fake: FakeTime, scheduler: Scheduler) -> None:
    fake.now = 42.0
    first = scheduler.begin(URI, 7, 41)
    assert (first.id, first.key, first.version, first.created) == (41, URI, 7, 42.0)
    assert isinstance(first.cancel, threading.Event)


def test_finish_forgets_only_the_latest(scheduler: Scheduler) -> None:
    old = scheduler.begin(URI, 1, next(IDS))
    new = scheduler.begin(URI, 2, next(IDS))
    scheduler.finish(old)
    assert len(scheduler) == 1
    scheduler.document_changed(URI, 3)
    assert new.cancelled
    scheduler.finish(new)
    assert len(scheduler) == 0


def test_finished_ticket_is_not_cancelled_by_later_edits(scheduler: Scheduler) -> None:
    ticket = scheduler.begin(URI, 1, next(IDS))
    scheduler.finish(ticket)
    scheduler.document_changed(URI, 2)
    assert not ticket.cancelled


@pytest.mark.asyncio
async def test_state_stays_bounded_over_many_requests(fake: FakeTime, scheduler: Scheduler) -> None:
    uris = [f"file:///project/{n}.py" for n in range(10)]
    for n in range(1000):
        ticket = scheduler.begin(uris[n % 10], n, next(IDS))
        if n % 3 == 0:
            task = start(scheduler, ticket)
            await fake.advance(0.1)
            assert task.result() is True
            scheduler.finish(ticket)
        assert len(scheduler) <= len(uris)
    for uri in uris:
        scheduler.document_closed(uri)
    assert len(scheduler) == 0
    assert fake.pending == 0


@pytest.mark.asyncio
async def test_wait_for_ends_with_what_it_waits_for(scheduler: Scheduler) -> None:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ticket = scheduler.begin(URI, 1, next(IDS))
    task = asyncio.ensure_future(scheduler.wait_for(ticket, lambda: done))
    await settle()
    assert not task.done()
    done.set_result(None)
    await settle()
    assert task.result() is True


@pytest.mark.asyncio
async def test_wait_for_wakes_at_once_when_superseded(scheduler: Scheduler) -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    first = scheduler.begin(URI, 1, next(IDS))
    task = asyncio.ensure_future(scheduler.wait_for(first, lambda: never))
    await settle()
    scheduler.begin(URI, 2, next(IDS))
    await settle()
    assert task.result() is False
    assert never.cancelled()  # nothing is left waiting on its behalf


@pytest.mark.asyncio
async def test_wait_for_a_cancelled_ticket_does_not_start_waiting(scheduler: Scheduler) -> None:
    started: list[bool] = []

    async def load() -> None:
        started.append(True)

    ticket = scheduler.begin(URI, 1, next(IDS))
    scheduler.cancel(ticket)
    assert await scheduler.wait_for(ticket, load) is False
    assert started == []


# -- run: work on the event loop that the ticket's cancellation stops ----------------------


async def test_run_gives_the_work_s_result_or_its_error(scheduler: Scheduler) -> None:
    async def answer() -> str:
        return "a + b"

    async def fail() -> str:
        raise ValueError("down")

    assert await scheduler.run(scheduler.begin(URI, 1, next(IDS)), answer) == "a + b"
    with pytest.raises(ValueError, match="down"):
        await scheduler.run(scheduler.begin(URI, 2, next(IDS)), fail)


async def test_run_cancels_the_work_at_once_when_superseded(scheduler: Scheduler) -> None:
    stopped = asyncio.Event()

    async def forever() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()
        return "never"

    first = scheduler.begin(URI, 1, next(IDS))
    running = asyncio.ensure_future(scheduler.run(first, forever))
    await settle()
    scheduler.begin(URI, 2, next(IDS))
    assert await asyncio.wait_for(running, 5) is None
    await asyncio.wait_for(stopped.wait(), 5)


async def test_a_detached_ticket_neither_supersedes_nor_is_superseded(
    scheduler: Scheduler,
) -> None:
    request = scheduler.begin(URI, 1, next(IDS))
    prefetch = scheduler.detached(URI, 1, next(IDS))
    scheduler.begin(URI, 1, next(IDS))
    assert request.cancelled and not prefetch.cancelled
    scheduler.cancel(prefetch)
    assert prefetch.cancelled
