"""Python's cyclic garbage collector, paused while a model loads.

Importing torch and transformers and building a model create a few hundred thousand
long-lived objects in seconds. The collector runs a full pass every time the number of
tracked objects has grown by a quarter, so a load from a warm cache ran seven full passes
over an ever larger heap: about a third of its time (1.2-1.6 s of 4-5 s on a busy two-core
machine), to free almost nothing. Paused, the objects are looked at once, by the first
collection after the load.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection while held (reference counting still frees what it can).

    One switch for the process, like `weights.hub_access`: the first holder saves it and
    the last one restores it, so overlapping loads on different threads (two TCP hosts in
    one test process) neither turn it on under each other nor leave it off. Usable as a
    decorator (`@paused_gc()`).
    """
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
