"""A model served by another program over HTTP, behind the same `Engine` contract.

vLLM, llama.cpp's llama-server and llama-cpp-python (OpenAI-compatible completions),
TGI and Ollama: the prompt is ours, FIM template included, and the engine only
continues it. Every request streams, so that a cancelled or superseded completion
closes its connection, which is how those servers learn to stop generating.

A remote engine is I/O, not compute: it runs on the event loop (`runs_on_loop`), and
cancelling the task of a `generate` closes its stream at once. Every failure raises
`EngineError`, every time, saying whether and when to try again (`retry`,
`retry_after_s`: a growing back-off for an engine that is down, or its own
`Retry-After`); what the user sees of it, and when the engine is asked again, is the
completion layer's decision. Completions are never retried here: they are not
idempotent (GPU time, and a sampled answer changes), and the editor's next request is
the retry. The token never reaches the log, at any level, nor does the password of an
endpoint URL (shown as `user:***`).

An engine that never stops sending (max_tokens ignored, a stream that drips for ever)
does not hold the call: a stream is read up to `max_new_tokens` token events per choice
and, all its requests together, up to a deadline of `DEADLINE_READ_TIMEOUTS` read
timeouts; what came by then is the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from starcoder_ls.engine.base import (
    EngineError,
    EngineInfo,
    GenerationParams,
    GenerationResult,
)
from starcoder_ls.engine.remote.choices import Choice, add_piece, engine_stops
from starcoder_ls.engine.remote.dialects import (
    Dialect,
    MalformedStream,
    RemoteError,
    error_text,
)
from starcoder_ls.engine.remote.transport import (
    Route,
    TransportError,
    client_options,
    first_bytes,
    lines,
    mapped,
)
from starcoder_ls.engine.remote.urls import basic_authorization, masked_url

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 2.5
"""Token estimate without a tokenizer: code runs 3-4 characters per token in the BPE
vocabularies of StarCoder-family models, so this over-counts and keeps prompts in the
window, at the cost of some context."""
FALLBACK_CONTEXT = 2048
"""Context window when neither the setting, the engine nor the models table gives one
(llama-cpp-python's and llama-server's default n_ctx)."""
PROBE_TIMEOUT_S = 2.0
DEADLINE_READ_TIMEOUTS = 2
"""A call's deadline, in read timeouts (`readTimeoutMs`, 30 s by default: a minute). A
read timeout is the longest silence allowed, a prefill's included, so the whole answer
gets as long again to stream."""
LONGEST_RETRY_AFTER_S = 3600.0
"""An engine's `Retry-After` is obeyed up to an hour."""


class _StatusError(Exception):
    def __init__(self, status: int, text: str, retry_after: float | None = None) -> None:
        super().__init__(f"returned {status}: {text}" if text else f"returned {status}")
        self.status = status
        self.retry_after = retry_after


@dataclass
class Backoff:
    """Waits of `first`, doubling up to `longest` seconds, between tries of a failing engine:
    the `retry_after_s` of its errors."""

    first: float = 0.5
    longest: float = 30.0
    _delay: float = 0.0

    def failed(self) -> float:
        self._delay = min(self.longest, self._delay * 2 if self._delay else self.first)
        return self._delay

    def reset(self) -> None:
        self._delay = 0.0


@dataclass(frozen=True, kw_only=True)
class Connection:
    """Where and how to reach the engine."""

    dialect: Dialect
    endpoint: str = field(repr=False)
    """As set: it may hold a user and password, so messages show `shown_endpoint`."""
    label: str
    model: str = ""
    token: str = field(default="", repr=False)
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    tls: ssl.SSLContext | None = None
    max_stops: int | None = None

    @property
    def shown_endpoint(self) -> str:
        return masked_url(self.endpoint)

    @property
    def where(self) -> str:
        return f"{self.label} at {self.shown_endpoint}"

    @property
    def deadline_s(self) -> float:
        return DEADLINE_READ_TIMEOUTS * self.read_timeout

    def headers(self) -> dict[str, str]:
        """The bearer token when there is one, else the endpoint's user and password (both
        would be the one `Authorization` header)."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif basic := basic_authorization(self.endpoint):
            headers["Authorization"] = basic
        return headers

    def client(self, route: Route) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            **client_options(
                route,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                tls=self.tls,
            )
        )

    def mapped(self, route: Route):  # type: ignore[no-untyped-def]
        return mapped(route, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout)


def masked(headers: dict[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials replaced, at every level."""
    secret = ("authorization", "proxy-authorization")
    return {k: ("***" if k.lower() in secret else v) for k, v in headers.items()}


@dataclass
class _Call:
    """One `generate` call's choices, filled in place: what came by a deadline is kept."""

    params: GenerationParams
    wanted: int
    on_token: Callable[[int], None] | None
    on_text: Callable[[str], None] | None = None
    done: list[Choice] = field(default_factory=list)
    current: list[Choice] = field(default_factory=list)
    refused: tuple[int, str] | None = None
    """Status and reason of a failed response whose body is being read."""

    def seen(self) -> list[Choice]:
        return [*self.done, *(c for c in self.current if c.seen)]

    def tokens(self) -> int:
        return sum(c.events for c in [*self.done, *self.current])


class RemoteEngine:
    """The Engine protocol over a serving engine's streaming HTTP API, on the event loop."""

    runs_on_loop = True
    """`generate` is a coroutine, awaited on the event loop (base.Engine)."""
    streams_text = True
    """`generate` takes `on_text` (base.Engine)."""

    def __init__(
        self,
        connection: Connection,
        *,
        info: EngineInfo,
        count_tokens: Callable[[str], int],
        backoff: Backoff | None = None,
    ) -> None:
        self.connection = connection
        self.info = info
        self._count = count_tokens
        self.backoff = backoff or Backoff()
        self._failing = False
        self.requests = 0
        """HTTP requests sent (tests and the log count them)."""

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    async def aclose(self) -> None:
        """Nothing stays open between calls: each request has its own client and connection."""

    def close(self) -> None:
        """As `aclose`; safe from any thread, with or without a running event loop."""

    async def generate(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> GenerationResult:
        """`prompt_ids` are ignored: the engine tokenizes the prompt text itself.

        `on_token(n)` runs after each token event with the number of tokens so far,
        `on_text(text)` after each event that adds to the first choice, with its text.
        Cancelling the task closes the stream at once (`asyncio.CancelledError` goes on
        up); every failure is an `EngineError`.
        """
        started = time.perf_counter()
        wanted = max(1, params.n) if params.temperature > 0 else 1
        call = _Call(params, wanted, on_token, on_text)
        try:
            await asyncio.wait_for(self._ask(prompt, call), self.connection.deadline_s)
        except asyncio.TimeoutError:
            self._past_deadline(call)
        except asyncio.CancelledError:
            log.info("%s: request cancelled, stream closed", self.connection.where)
            raise
        except (TransportError, MalformedStream) as exc:
            raise self._failure(str(exc), retry=True, wait=self.backoff.failed()) from None
        except _StatusError as exc:
            raise self._status_failure(exc) from None
        except RemoteError as exc:
            # The same words at once would be the same error: shown once (`retry_after_s`).
            raise self._failure(f"reported an error: {exc}", retry=True, wait=0.0) from None
        if self._failing:
            log.info("%s answers again", self.connection.where)
        self._failing = False
        self.backoff.reset()
        return GenerationResult(
            choices=tuple(c.generation() for c in call.done[:wanted]),
            prompt_tokens=self._count(prompt),
            generate_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def _ask(self, prompt: str, call: _Call) -> None:
        """One request when the API gives `n` choices and the server honours it; else one
        request per missing choice (llama-cpp-python ignores `n`, TGI and Ollama have no
        such parameter)."""
        for attempt in range(call.wanted):
            params = call.params
            if attempt and params.seed is not None:
                params = dataclasses.replace(params, seed=params.seed + len(call.done))
            many = self.connection.dialect.many_choices
            call.current = [Choice() for _ in range(call.wanted - len(call.done) if many else 1)]
            await self._stream(prompt, params, call)
            call.done += [c for c in call.current if c.seen]
            call.current = []
            if len(call.done) >= call.wanted:
                return

    async def _stream(self, prompt: str, params: GenerationParams, call: _Call) -> None:
        """Fill `call.current` (as many choices as asked for) from one streamed request."""
        conn = self.connection
        dialect = conn.dialect
        stops = engine_stops(params)
        if conn.max_stops is not None:
            stops = stops[: conn.max_stops]  # the rest are checked here, on our side
        body = json.dumps(dialect.body(prompt, params, conn.model, len(call.current), stops))
        url = dialect.url(conn.endpoint, dialect.generate_path)
        headers = conn.headers()
        log.debug("POST %s headers=%s body=%s", masked_url(url), masked(headers), body)
        self.requests += 1
        route = Route.to(url)
        with conn.mapped(route):
            async with (
                conn.client(route) as client,
                client.stream("POST", route.target.url, content=body, headers=headers) as response,
            ):
                # Leaving this block early (a stop string seen here, a cancel, the token
                # bound) closes the connection, which is what stops the engine.
                if response.status_code != 200:
                    call.refused = (response.status_code, response.reason_phrase)
                    raise _StatusError(
                        response.status_code, await _body_message(response), _retry_after(response)
                    )
                finished = await self._read(response, route.peer, params, call)
        choices = call.current
        if not finished and not all(c.reason for c in [c for c in choices if c.seen] or choices):
            raise TransportError(
                "protocol",
                f"the stream ended before the engine finished (after {call.tokens()} tokens)",
            )

    async def _read(
        self, response: httpx.Response, peer: str, params: GenerationParams, call: _Call
    ) -> bool:
        """Fill `call.current` from the stream; True when the engine said the response is over."""
        dialect = self.connection.dialect
        choices = call.current
        async for line in lines(response, peer):
            for piece in dialect.parse(line):
                carries = piece.text or piece.token or piece.finish or piece.tokens is not None
                if carries and piece.index < len(choices):
                    if add_piece(choices[piece.index], piece, params):
                        log.info(
                            "%s went on past the %d tokens asked for; not read further",
                            self.connection.where,
                            params.max_new_tokens,
                        )
                    if call.on_token is not None and piece.token:
                        call.on_token(call.tokens())
                    first = piece.index == 0 and not call.done
                    if call.on_text is not None and piece.text and first:
                        call.on_text(choices[0].text)
                if piece.done:
                    return True
            if all(c.reason for c in choices):
                return True
        return False

    def _past_deadline(self, call: _Call) -> None:
        """The call's deadline passed: what came is the answer; an error when nothing did."""
        if call.refused is not None:  # its error body never ended: the reason must do
            raise self._status_failure(_StatusError(*call.refused)) from None
        seconds = self.connection.deadline_s
        call.done, call.current = call.seen(), []
        if not call.done:
            problem = f"sent no completion within {seconds:g} s"
            raise self._failure(problem, retry=True, wait=self.backoff.failed()) from None
        for choice in call.done:
            choice.reason = choice.reason or "length"
        log.info(
            "%s was still sending after %g s; stream closed, its text so far is the answer",
            self.connection.where,
            seconds,
        )

    def _status_failure(self, exc: _StatusError) -> EngineError:
        if exc.status >= 500 or exc.status == 429:  # down or overloaded: back off
            wait = self.backoff.failed()
            if exc.retry_after is not None:
                wait = exc.retry_after
            return self._failure(str(exc), retry=True, wait=wait)
        return self._failure(str(exc), retry=False)  # asking again as is cannot help

    def _failure(self, problem: str, *, retry: bool, wait: float | None = None) -> EngineError:
        joiner = " " if problem.startswith(("returned", "reported")) else ": "
        self._failing = True
        return EngineError(
            f"{self.connection.where}{joiner}{problem}", retry=retry, retry_after_s=wait
        )


async def _body_message(response: httpx.Response) -> str:
    """The engine's own words for a failed request, whatever shape they come in."""
    try:
        raw = await first_bytes(response)
    except (httpx.TransportError, TransportError):
        return response.reason_phrase
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        message = error_text(json.loads(text))
    except ValueError:
        message = None
    return (message or text or response.reason_phrase)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    """The response's `Retry-After` in seconds (a number or an HTTP date), if it has one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(0.0, seconds), LONGEST_RETRY_AFTER_S)
