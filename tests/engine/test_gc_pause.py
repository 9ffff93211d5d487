"""The collector is paused while a model loads and comes back as it was, whatever happens."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from starcoder_ls.engine.gc_pause import paused_gc


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_back_on_after() -> None:
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_a_failed_load() -> None:
    @paused_gc()
    def load() -> None:
        assert not gc.isenabled()
        raise RuntimeError("corrupt file")

    with pytest.raises(RuntimeError, match="corrupt file"):
        load()
    with pytest.raises(RuntimeError):
        load()  # the decorator makes a new pause for every call
    assert gc.isenabled()


def test_left_off_when_it_was_off_before() -> None:
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_overlapping_load_on_another_thread_keeps_it_paused() -> None:
    entered, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_load() -> None:
        with paused_gc():
            entered.set()
            assert leave.wait(30)
        seen.append(gc.isenabled())

    with paused_gc():
        thread = threading.Thread(target=other_load)
        thread.start()
        assert entered.wait(30)
    assert not gc.isenabled(), "the other load still runs: the first one to end must not resume"
    leave.set()
    thread.join(30)
    assert seen == [True] and gc.isenabled()
