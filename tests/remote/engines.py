"""Remote engines for the tests, pointed at the loopback servers of `servers.py`."""

from __future__ import annotations

import socket
import threading
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


def generate(
    engine: RemoteEngine,
    prompt: str = "def add(a, b):\n",
    *,
    cancel: threading.Event | None = None,
    on_token: Callable[[int], None] | None = None,
    **params: object,
) -> GenerationResult:
    return engine.generate(
        prompt, GenerationParams(**params), cancel or threading.Event(), on_token=on_token
    )


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
