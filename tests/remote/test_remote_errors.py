"""Error paths of the remote engine against real sockets on 127.0.0.1.

Each failure is one clear EngineError naming the engine and what went wrong, raised every
time it happens, saying whether and when asking again may work (`retry`,
`retry_after_s`): what the user sees of it is the completion layer's decision
(completion/failures.py). Nothing hangs: every wait is bounded by the engine's timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from starcoder_ls.engine.base import EngineError, GenerationParams
from tests.remote.engines import free_port, generate, make_engine
from tests.remote.servers import (
    LoopbackServer,
    openai_events,
    reply,
    routes,
    silent,
    sse,
    stream,
)

pytestmark = pytest.mark.usefixtures("no_proxy_env")

COMPLETIONS = "/v1/completions"


def _answers(pieces: list[str]) -> LoopbackServer:
    return LoopbackServer(routes({COMPLETIONS: stream(openai_events(pieces))}))


def test_connection_refused_says_when_to_try_again_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    engine = make_engine(f"http://127.0.0.1:{port}")
    with pytest.raises(EngineError) as first:
        generate(engine)
    assert f"OpenAI-compatible server at http://127.0.0.1:{port}/v1" in str(first.value)
    assert "refused" in str(first.value)
    assert first.value.retry and first.value.retry_after_s == 0.05

    with pytest.raises(EngineError) as again:  # raised again: the caller decides what to show
        generate(engine)
    assert str(again.value) == str(first.value)
    assert again.value.retry_after_s == 0.1, "the back-off doubles"

    caplog.set_level(logging.INFO, logger="starcoder_ls.engine.remote.client")
    with LoopbackServer(routes({COMPLETIONS: stream(openai_events(["x", " + 1"]))}), port=port):
        result = generate(engine)
    assert result.choices[0].text == "x + 1"
    assert "answers again" in caplog.text
    assert engine.backoff.failed() == 0.05, "an answer resets the back-off"


def test_a_down_engine_backs_off_doubling_up_to_the_longest_wait() -> None:
    with LoopbackServer(reply(503, {"error": {"message": "Loading model", "code": 503}})) as srv:
        engine = make_engine(srv.url, label="llama-server")
        waits = []
        for _ in range(4):
            with pytest.raises(EngineError, match="returned 503: Loading model") as info:
                generate(engine)
            assert info.value.retry
            waits.append(info.value.retry_after_s)
        assert len(srv.requests) == 4, "the engine asks whenever it is called"
    assert waits == [0.05, 0.1, 0.2, 0.2]


def test_retry_after_of_a_503_is_when_to_try_again() -> None:
    def handle(exchange):  # type: ignore[no-untyped-def]
        body = b'{"error": {"message": "Loading model"}}'
        headers = {"Retry-After": "7", "Content-Length": str(len(body))}
        exchange.head(503, headers) and exchange.send(body)

    with (
        LoopbackServer(routes({COMPLETIONS: handle})) as srv,
        pytest.raises(EngineError, match="returned 503: Loading model") as info,
    ):
        generate(make_engine(srv.url))
    assert (info.value.retry, info.value.retry_after_s) == (True, 7.0)


def test_503_message_names_engine_endpoint_status_and_reason() -> None:
    with LoopbackServer(reply(503, {"error": {"message": "Loading model", "code": 503}})) as srv:
        engine = make_engine(srv.url, label="llama-server")
        with pytest.raises(EngineError) as info:
            generate(engine)
    assert str(info.value) == f"llama-server at {srv.url}/v1 returned 503: Loading model"


def test_500_with_a_plain_text_body_and_recovery() -> None:
    calls = {"n": 0}
    ok = stream(openai_events(["return a + b"]))
    broken = reply(500, "Internal Server Error: CUDA error", content_type="text/plain")

    def flaky(exchange):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        (broken if calls["n"] <= 1 else ok)(exchange)

    with LoopbackServer(routes({COMPLETIONS: flaky})) as srv:
        engine = make_engine(srv.url)
        with pytest.raises(EngineError, match="returned 500: Internal Server Error: CUDA error"):
            generate(engine)
        assert generate(engine).choices[0].text == "return a + b"


def test_a_client_error_is_not_retried_and_each_one_is_raised() -> None:
    answers = iter(
        [
            reply(401, {"error": {"message": "Invalid API key"}}),
            reply(401, {"error": {"message": "Invalid API key"}}),
            reply(404, {"detail": "The model `nope` does not exist."}),
        ]
    )
    with LoopbackServer(routes({COMPLETIONS: lambda ex: next(answers)(ex)})) as srv:
        engine = make_engine(srv.url)
        for _ in range(2):
            with pytest.raises(EngineError, match="401: Invalid API key") as info:
                generate(engine)
            assert (info.value.retry, info.value.retry_after_s) == (False, None)
        with pytest.raises(EngineError, match="404: The model `nope` does not exist"):
            generate(engine)
        assert len(srv.requests) == 3


def test_a_port_that_accepts_and_never_answers_times_out() -> None:
    with LoopbackServer(silent) as srv:
        engine = make_engine(srv.url, read_timeout=0.3)
        with pytest.raises(EngineError, match=r"sent nothing for 0\.3 s"):
            generate(engine)
        deadline = time.monotonic() + 5
        while not srv.exchanges[0].client_gone and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.exchanges[0].client_gone, "the timed-out connection was left open"


def test_malformed_json_in_the_stream() -> None:
    lines = ['data: {"choices": [{"index": 0, "text": "ok"}]}\n\n', "data: {not json\n\n"]
    with LoopbackServer(routes({COMPLETIONS: stream(lines)})) as srv:
        engine = make_engine(srv.url)
        with pytest.raises(EngineError, match="not JSON: '{not json'"):
            generate(engine)


def test_a_response_that_is_not_http() -> None:
    def garbage(exchange):  # type: ignore[no-untyped-def]
        exchange.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    with (
        LoopbackServer(garbage) as srv,
        pytest.raises(EngineError, match="did not answer in HTTP: 'SSH-2.0"),
    ):
        generate(make_engine(srv.url))


def test_a_server_that_closes_without_an_answer() -> None:
    with (
        LoopbackServer(lambda exchange: None) as srv,
        pytest.raises(EngineError, match="closed the connection in the middle of a response"),
    ):
        generate(make_engine(srv.url))


@pytest.mark.parametrize("chunked", [True, False])
def test_a_stream_cut_halfway(chunked: bool) -> None:
    events = openai_events(["a", "b", "c", "d"])
    if chunked:
        handler = stream(events, cut_after=2)
    else:

        def handler(exchange):  # type: ignore[no-untyped-def]
            # No length and no chunks: the end of the connection ends the body.
            exchange.head(200, {"Content-Type": "text/event-stream"})
            exchange.send("".join(events[:2]).encode())

    with LoopbackServer(routes({COMPLETIONS: handler})) as srv, pytest.raises(EngineError) as info:
        generate(make_engine(srv.url))
    expected = "in the middle of a response" if chunked else "before the engine finished"
    assert expected in str(info.value)


def test_an_error_event_inside_the_stream() -> None:
    lines = sse([{"choices": [{"index": 0, "text": "x"}]}, {"error": {"message": "KV full"}}])
    with (
        LoopbackServer(routes({COMPLETIONS: stream(lines)})) as srv,
        pytest.raises(EngineError, match="reported an error: KV full"),
    ):
        generate(make_engine(srv.url))


async def test_cancelling_the_task_closes_the_stream_at_once() -> None:
    endless = openai_events(["tok "] * 2000)
    with LoopbackServer(routes({COMPLETIONS: stream(endless, delay=0.005)})) as srv:
        engine = make_engine(srv.url)
        counts: list[int] = []
        third = asyncio.Event()

        def on_token(count: int) -> None:
            counts.append(count)
            if count >= 3:
                third.set()

        params = GenerationParams(max_new_tokens=2000)
        task = asyncio.create_task(engine.generate("x", params, on_token=on_token))
        await asyncio.wait_for(third.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        exchange = srv.exchanges[0]
        sent_at_cancel = exchange.sent_events
        cancelled_at = time.monotonic()
        while not exchange.client_gone and time.monotonic() < cancelled_at + 5:
            await asyncio.sleep(0.005)
    assert exchange.client_gone, "the server never saw the connection close"
    # Counted in the server's events, not seconds: a busy machine slows both sides alike.
    late = exchange.sent_events - sent_at_cancel
    assert late < 100, f"the server sent {late} more events after the cancel"
    assert counts[:3] == [1, 2, 3]


async def test_cancelling_before_the_answer_closes_the_connection() -> None:
    with LoopbackServer(silent) as srv:
        engine = make_engine(srv.url, read_timeout=60.0)
        task = asyncio.create_task(engine.generate("x", GenerationParams()))
        while not srv.exchanges:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 5
        while not srv.exchanges[0].client_gone and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert srv.exchanges[0].client_gone


def test_a_stop_string_seen_here_closes_the_stream_early() -> None:
    endless = openai_events(["x = 1", "\n", "y = 2"] + ["\n"] * 2000)
    with LoopbackServer(routes({COMPLETIONS: stream(endless, delay=0.005)})) as srv:
        result = generate(make_engine(srv.url), stop=("\n",))
        exchange = srv.exchanges[0]
        deadline = time.monotonic() + 5
        while not exchange.client_gone and time.monotonic() < deadline:
            time.sleep(0.02)
    assert result.choices[0].text == "x = 1"
    assert result.choices[0].stop_reason == "stop"
    assert not result.cancelled
    assert exchange.client_gone


def test_a_one_line_completion_on_a_blank_line_goes_on_to_its_first_line_with_content() -> None:
    """A serving engine cannot forbid a leading line break: it is looked past here, and the
    engine is not sent a stop that the blanks would end the answer at."""
    pieces = openai_events(["\n", "\n    ", "x = 1", "\n", "y = 2"])
    with LoopbackServer(routes({COMPLETIONS: stream(pieces)})) as srv:
        result = generate(make_engine(srv.url), stop=("\n",), no_leading_line_break=True)
    assert result.choices[0].text == "\n\n    x = 1"
    assert result.choices[0].stop_reason == "stop"
    assert "stop" not in srv.requests[0].json()


def test_a_line_ahead_ends_where_the_next_line_ends() -> None:
    pieces = openai_events(["x = 1", "\n", "    ", "y = 2", "\n", "z = 3"])
    with LoopbackServer(routes({COMPLETIONS: stream(pieces)})) as srv:
        result = generate(make_engine(srv.url), stop=("\n", "def "), line_ahead=True)
    assert result.choices[0].text == "x = 1\n    y = 2"
    assert srv.requests[0].json()["stop"] == ["def "]


def test_the_token_is_sent_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    token = "sk-test-5e3b9c0d7a"
    caplog.set_level(logging.DEBUG)
    with _answers(["ok"]) as srv:
        result = generate(make_engine(srv.url, token=token))
    assert result.choices[0].text == "ok"
    assert srv.requests[0].headers["authorization"] == f"Bearer {token}"
    assert "Authorization': '***'" in caplog.text, "the debug log shows the masked header"
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()


def test_several_choices_from_a_server_that_ignores_n() -> None:
    with _answers(["same"]) as srv:
        result = generate(make_engine(srv.url), temperature=0.7, n=3, seed=11)
    assert [c.text for c in result.choices] == ["same"] * 3
    bodies = [r.json() for r in srv.requests]
    assert [b["n"] for b in bodies] == [3, 2, 1]
    assert [b["seed"] for b in bodies] == [11, 12, 13], "each extra request samples anew"
