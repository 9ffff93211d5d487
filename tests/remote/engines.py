"""Remote engines for the tests, pointed at the loopback servers of `servers.py`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from starcoder_ls.engine import fim
from starcoder_ls.engine.base import EngineInfo, GenerationParams, GenerationResult
from starcoder_ls.engine.remote.client import Backoff, Connection, RemoteEngine
from starcoder_ls.engine.remote.dialects import DIALECTS

PATHS = {"openai": "/v1", "tgi": "", "ollama": ""}
"""What each dialect's endpoint adds to the server's root URL (`/v1` as vLLM documents it)."""


def make_engine(
    root: str,
    dialect: str = "openai",
    *,
    model: str = "",
    token: str = "",
    read_timeout: float = 5.0,
    label: str = "",
    max_stops: int | None = None,
) -> RemoteEngine:
    """A RemoteEngine without the load-time probe, with a back-off short enough for tests."""
    chosen = DIALECTS[dialect]
    connection = Connection(
        dialect=chosen,
        endpoint=root + PATHS[dialect],
        label=label or chosen.label,
        model=model,
        token=token,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        max_stops=max_stops if max_stops is not None else chosen.max_stops,
    )
    info = EngineInfo(
        model=f"remote: {connection.label} {model}",
        template=fim.get_template("prefix-only"),
        context_window=2048,
    )
    return RemoteEngine(connection, info=info, count_tokens=len, backoff=Backoff(0.05, 0.2))


GUARD_S = 30.0
"""Longest a call may take before the test fails: a hang, not a timing."""


def generate(
    engine: RemoteEngine,
    prompt: str = "def add(a, b):\n",
    *,
    on_token: Callable[[int], None] | None = None,
    **params: object,
) -> GenerationResult:
    """`engine.generate` on an event loop of its own (for tests that are not coroutines),
    cancelled and failed if it is not back within GUARD_S."""
    call = engine.generate(prompt, GenerationParams(**params), on_token=on_token)
    return asyncio.run(asyncio.wait_for(call, GUARD_S))


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
