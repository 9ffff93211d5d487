"""A model served by another program over HTTP, behind the same `Engine` contract.

vLLM, llama.cpp's llama-server and llama-cpp-python (OpenAI-compatible completions),
TGI and Ollama: the prompt is ours, FIM template included, and the engine only
continues it. Every request streams, so that a cancelled or superseded completion
closes its connection, which is how those servers learn to stop generating.

Failures are for a person at an editor: each distinct error is raised once (the server
shows it), and while it persists later requests return nothing, quietly; an engine
that is down or overloaded is not asked again before a growing back-off has passed.
Completions are never retried within a request: they are not idempotent (GPU time, and
a sampled answer changes), and the editor's next request is the retry. The token never
reaches the log, at any level, nor does the password of an endpoint URL (shown as
`user:***`).

An engine that never stops sending (max_tokens ignored, a stream that drips for ever)
does not hold the single worker: a stream is read up to `max_new_tokens` token events
per choice and, all its requests together, up to a deadline of `DEADLINE_READ_TIMEOUTS`
read timeouts; what came by then is the answer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starcoder_ls.engine.base import (
    UNAVAILABLE,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    GenerationResult,
)
from starcoder_ls.engine.remote import http
from starcoder_ls.engine.remote.dialects import (
    Dialect,
    MalformedStream,
    Piece,
    RemoteError,
    error_text,
)
from starcoder_ls.engine.stopping import cut_at_stop, ends_in_loop

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


class _StatusError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"returned {status}: {text}" if text else f"returned {status}")
        self.status = status


@dataclass
class Backoff:
    """Waits of `first`, doubling up to `longest` seconds, between tries of a failing engine."""

    first: float = 0.5
    longest: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _delay: float = 0.0
    _until: float = 0.0

    def failed(self) -> float:
        self._delay = min(self.longest, self._delay * 2 if self._delay else self.first)
        self._until = self.clock() + self._delay
        return self._delay

    def reset(self) -> None:
        self._delay = self._until = 0.0

    def remaining(self) -> float:
        return max(0.0, self._until - self.clock())


@dataclass
class _Choice:
    text: str = ""
    events: int = 0
    tokens: int | None = None
    reason: str | None = None
    seen: bool = False

    def generation(self, reason: str | None = None) -> Generation:
        count = self.tokens if self.tokens is not None else self.events
        return Generation(text=self.text, tokens=count, stop_reason=reason or self.reason or "eos")


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
        return http.masked_url(self.endpoint)

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
        elif basic := http.basic_authorization(self.endpoint):
            headers["Authorization"] = basic
        return headers


def masked(headers: dict[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials replaced, at every level."""
    secret = ("authorization", "proxy-authorization")
    return {k: ("***" if k.lower() in secret else v) for k, v in headers.items()}


class RemoteEngine:
    """The Engine protocol over a serving engine's streaming HTTP API (one worker thread)."""

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
        self._last_error: str | None = None
        self.requests = 0
        """HTTP requests sent (tests and the log count them)."""

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def close(self) -> None:
        """Nothing stays open between requests: each one has its own connection."""

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        cancel: threading.Event,
        *,
        prompt_ids: Sequence[int] | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> GenerationResult:
        """`prompt_ids` are ignored: the engine tokenizes the prompt text itself."""
        started = time.perf_counter()
        if cancel.is_set():
            return self._result([_Choice().generation("cancelled")], prompt, started, True)
        wait = self.backoff.remaining()
        if wait > 0:
            log.info("%s: not asked, still in back-off for %.1f s", self.connection.where, wait)
            return self._result([_Choice().generation(UNAVAILABLE)], prompt, started, True)
        wanted = max(1, params.n) if params.temperature > 0 else 1
        deadline = time.monotonic() + self.connection.deadline_s
        done: list[_Choice] = []
        current: list[_Choice] = []
        try:
            # One request when the API gives `n` choices and the server honours it; else
            # one request per missing choice (llama-cpp-python ignores `n`, TGI and Ollama
            # have no such parameter).
            for attempt in range(wanted):
                if attempt and time.monotonic() >= deadline:
                    break
                call = params
                if attempt and params.seed is not None:
                    call = _with_seed(params, params.seed + len(done))
                many = self.connection.dialect.many_choices
                current = [_Choice() for _ in range(wanted - len(done) if many else 1)]
                self._stream(prompt, call, current, cancel, on_token, done, deadline)
                done += [c for c in current if c.seen]
                current = []
                if len(done) >= wanted:
                    break
        except http.DeadlinePassed:
            done += [c for c in current if c.seen]
            seconds = self.connection.deadline_s
            if not done:
                return self._failure(
                    f"sent no completion within {seconds:g} s", prompt, started, down=True
                )
            for choice in done:
                choice.reason = choice.reason or "length"
            log.info(
                "%s was still sending after %g s; stream closed, its text so far is the answer",
                self.connection.where,
                seconds,
            )
        except http.Cancelled:
            partial = [*done, *(c for c in current if c.seen)] or [_Choice()]
            choices = [c.generation("cancelled") for c in partial]
            log.info("%s: request cancelled, stream closed", self.connection.where)
            return self._result(choices, prompt, started, True)
        except (http.TransportError, MalformedStream) as exc:
            return self._failure(str(exc), prompt, started, down=True)
        except _StatusError as exc:
            down = exc.status >= 500 or exc.status == 429
            return self._failure(str(exc), prompt, started, down=down)
        except RemoteError as exc:
            return self._failure(f"reported an error: {exc}", prompt, started, down=False)
        if self._last_error is not None:
            log.info("%s answers again", self.connection.where)
        self._last_error = None
        self.backoff.reset()
        return self._result([c.generation() for c in done[:wanted]], prompt, started, False)

    def _stream(
        self,
        prompt: str,
        params: GenerationParams,
        choices: list[_Choice],
        cancel: threading.Event,
        on_token: Callable[[int], None] | None,
        earlier: list[_Choice],
        deadline: float,
    ) -> None:
        """Fill `choices` (as many as asked for) from one streamed request."""
        conn = self.connection
        dialect = conn.dialect
        n = len(choices)
        stops = list(params.stop)
        if conn.max_stops is not None:
            stops = stops[: conn.max_stops]  # the rest are checked below, on our side
        body = dialect.body(prompt, params, conn.model, n, stops)
        url = dialect.url(conn.endpoint, dialect.generate_path)
        headers = conn.headers()
        log.debug(
            "POST %s headers=%s body=%s", http.masked_url(url), masked(headers), json.dumps(body)
        )
        self.requests += 1
        response = http.request(
            "POST",
            url,
            body=json.dumps(body).encode(),
            headers=headers,
            cancel=cancel,
            connect_timeout=conn.connect_timeout,
            read_timeout=conn.read_timeout,
            tls=conn.tls,
            deadline=deadline,
        )
        try:
            if response.status != 200:
                raise _StatusError(response.status, _body_message(response))
            finished = self._read(response, params, choices, earlier, on_token)
        finally:
            # Closing early (a stop string seen here, a cancel) is what stops the engine.
            response.close()
        seen = [c for c in choices if c.seen]
        if not finished and not all(c.reason for c in seen or choices):
            got = sum(c.events for c in choices)
            raise http.TransportError(
                "protocol", f"the stream ended before the engine finished (after {got} tokens)"
            )

    def _read(
        self,
        response: http.Response,
        params: GenerationParams,
        choices: list[_Choice],
        earlier: list[_Choice],
        on_token: Callable[[int], None] | None,
    ) -> bool:
        """Fill `choices` from the stream; True when the engine said the response is over."""
        dialect = self.connection.dialect
        for line in response.lines():
            for piece in dialect.parse(line):
                carries = piece.text or piece.token or piece.finish or piece.tokens is not None
                if carries and piece.index < len(choices):
                    if _add(choices[piece.index], piece, params):
                        log.info(
                            "%s went on past the %d tokens asked for; not read further",
                            self.connection.where,
                            params.max_new_tokens,
                        )
                    if on_token is not None and piece.token:
                        on_token(sum(c.events for c in [*earlier, *choices]))
                if piece.done:
                    return True
            if all(c.reason for c in choices):
                return True
        return False

    def _failure(
        self, problem: str, prompt: str, started: float, *, down: bool
    ) -> GenerationResult:
        joiner = " " if problem.startswith(("returned", "reported")) else ": "
        message = f"{self.connection.where}{joiner}{problem}"
        retry = f"; next try in {self.backoff.failed():g} s" if down else ""
        if message != self._last_error:
            self._last_error = message
            raise EngineError(message)
        log.info("%s (again%s)", message, retry)
        return self._result([_Choice().generation(UNAVAILABLE)], prompt, started, True)

    def _result(
        self, choices: list[Generation], prompt: str, started: float, cancelled: bool
    ) -> GenerationResult:
        return GenerationResult(
            choices=tuple(choices),
            prompt_tokens=self._count(prompt),
            generate_ms=(time.perf_counter() - started) * 1000.0,
            cancelled=cancelled,
        )


def _add(choice: _Choice, piece: Piece, params: GenerationParams) -> bool:
    """One event into its choice; stop strings, the repetition stop and `max_new_tokens`
    are applied here whatever the engine does. True when this event is a token past
    `max_new_tokens`: it is dropped and the choice ends ("length")."""
    choice.seen = True
    if choice.reason is not None:
        return False  # ended here (a stop string, the token bound) while the engine sends
    if piece.token and choice.events >= params.max_new_tokens:
        choice.reason = "length"
        return True
    choice.text += piece.text
    choice.events += int(piece.token)
    if piece.tokens is not None:
        choice.tokens = piece.tokens
    choice.text, stop = cut_at_stop(choice.text, params.stop)
    if stop is not None:
        choice.reason = "stop"
    elif params.repetition_stop and piece.text and ends_in_loop(choice.text):
        choice.reason = "repetition"  # once every choice has ended, the stream is closed
    elif piece.finish is not None:
        choice.reason = piece.finish
    return False


def _with_seed(params: GenerationParams, seed: int) -> GenerationParams:
    return dataclasses.replace(params, seed=seed)


def _body_message(response: http.Response) -> str:
    """The engine's own words for a failed request, whatever shape they come in."""
    try:
        raw = response.read()
    except (http.TransportError, http.Cancelled):
        return response.reason
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        message = error_text(json.loads(text))
    except ValueError:
        message = None
    return (message or text or response.reason)[:300]
