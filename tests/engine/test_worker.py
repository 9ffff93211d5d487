"""The model's single worker thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from starcoder_ls.engine.worker import ModelWorker


@pytest.fixture
def worker():
    worker = ModelWorker()
    yield worker
    worker.shutdown()


def test_calls_run_in_submission_order_on_one_thread(worker: ModelWorker) -> None:
    seen: list[tuple[int, int]] = []
    futures = [
        worker.submit(lambda i=i: seen.append((i, threading.get_ident())) or i) for i in range(50)
    ]
    assert [f.result(timeout=10) for f in futures] == list(range(50))
    assert [i for i, _ in seen] == list(range(50))
    threads = {ident for _, ident in seen}
    assert threads == {worker.thread.ident}
    assert worker.thread.ident != threading.get_ident()


def test_arguments_and_keywords_reach_the_call(worker: ModelWorker) -> None:
    assert worker.submit(divmod, 17, 5).result(timeout=10) == (3, 2)
    assert worker.submit(int, "ff", base=16).result(timeout=10) == 255


def test_exception_propagates_and_worker_keeps_going(worker: ModelWorker) -> None:
    def boom() -> None:
        raise ValueError("broken model")

    with pytest.raises(ValueError, match="broken model"):
        worker.submit(boom).result(timeout=10)
    assert worker.submit(lambda: "still alive").result(timeout=10) == "still alive"


def test_base_exceptions_reach_the_caller_too(worker: ModelWorker) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        worker.submit(interrupt).result(timeout=10)
    assert worker.submit(lambda: 1).result(timeout=10) == 1


async def test_awaitable_from_asyncio(worker: ModelWorker) -> None:
    result = await asyncio.wrap_future(worker.submit(sum, [1, 2, 3]))
    assert result == 6


def test_a_cancelled_future_is_skipped(worker: ModelWorker) -> None:
    release = threading.Event()
    ran: list[str] = []
    blocker = worker.submit(release.wait, 10)
    skipped = worker.submit(ran.append, "skipped")
    assert skipped.cancel()
    release.set()
    assert blocker.result(timeout=10) is True
    assert worker.submit(ran.append, "after").result(timeout=10) is None
    assert ran == ["after"]


def test_shutdown_finishes_queued_calls_then_refuses_new_ones() -> None:
    worker = ModelWorker()
    release = threading.Event()
    worker.submit(release.wait, 10)
    queued = worker.submit(lambda: "queued before shutdown")
    worker.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(lambda: None)
    release.set()
    assert queued.result(timeout=10) == "queued before shutdown"
    worker.shutdown(wait=True)
    assert not worker.thread.is_alive()
    worker.shutdown()


def test_thread_is_a_daemon_so_it_never_blocks_exit(worker: ModelWorker) -> None:
    assert worker.thread.daemon
