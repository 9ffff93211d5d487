"""The repetition stop over a remote engine: the stream is closed once the line loops."""

from __future__ import annotations

import pytest

from tests.remote.engines import generate, make_engine
from tests.remote.servers import LoopbackServer, openai_events, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")

PIECES = [" f(a);", *[" 1."] * 100]


@pytest.mark.parametrize("on", [True, False])
def test_a_looping_stream_is_closed_early(on: bool) -> None:
    handler = stream(openai_events(PIECES, finish="length"))
    with LoopbackServer(routes({"/v1/completions": handler})) as srv:
        result = generate(make_engine(srv.url), max_new_tokens=200, repetition_stop=on)

    (choice,) = result.choices
    assert choice.text.startswith(" f(a); 1. 1.")
    if on:
        assert choice.stop_reason == "repetition"
        assert choice.tokens < len(PIECES)
    else:
        assert (choice.stop_reason, choice.tokens) == ("length", len(PIECES))
