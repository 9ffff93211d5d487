"""OpenAI-compatible streams: one recorded from the real llama-cpp-python server, and
vLLM's `stop_reason`, which tells a stop string from the end token.

`recorded/llama_cpp_python_recorded_stream.sse` is the byte-for-byte answer of
llama-cpp-python 0.3.36 (SmolLM2-135M GGUF) to `{"prompt": "def add(a, b):\\n",
"max_tokens": 12, "temperature": 0, "stream": true, "stop": ["\\n\\n"]}`. The vLLM events
follow `CompletionResponseStreamChoice` (vllm/entrypoints/openai/protocol.py): `stop_reason`
is the matched stop string, a stop token id, or null for the model's end token.
"""

from __future__ import annotations

import pytest

from tests.remote.engines import generate, make_engine
from tests.remote.servers import LoopbackServer, recorded, routes, sse, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")


def test_the_recorded_llama_cpp_python_stream() -> None:
    lines = recorded("llama_cpp_python_recorded_stream.sse")
    with LoopbackServer(routes({"/v1/completions": stream(lines)})) as srv:
        result = generate(make_engine(srv.url), "def add(a, b):\n", max_new_tokens=12)
    choice = result.choices[0]
    assert choice.text == "```\nIn this example, the `add` function takes"
    assert (choice.tokens, choice.stop_reason) == (12, "length")


@pytest.mark.parametrize(
    ("stop_reason", "expected"), [(None, "eos"), ("\n\n", "stop"), (100257, "eos")]
)
def test_vllm_stop_reason(stop_reason: object, expected: str) -> None:
    events = [
        {"id": "cmpl-1", "object": "text_completion", "model": "m",
         "choices": [{"index": 0, "text": "pass", "logprobs": None,
                      "finish_reason": None, "stop_reason": None}]},
        {"id": "cmpl-1", "object": "text_completion", "model": "m",
         "choices": [{"index": 0, "text": "", "logprobs": None,
                      "finish_reason": "stop", "stop_reason": stop_reason}]},
        "[DONE]",
    ]  # fmt: skip
    with LoopbackServer(routes({"/v1/completions": stream(sse(events))})) as srv:
        result = generate(make_engine(srv.url))
    assert (result.choices[0].text, result.choices[0].stop_reason) == ("pass", expected)


def test_several_choices_interleaved_in_one_stream() -> None:
    def event(index: int, text: str, finish: str | None = None) -> dict:
        return {"choices": [{"index": index, "text": text, "finish_reason": finish}]}

    events = [event(0, "a"), event(1, "x"), event(1, "y", "stop"), event(0, "b", "length")]
    with LoopbackServer(routes({"/v1/completions": stream(sse([*events, "[DONE]"]))})) as srv:
        result = generate(make_engine(srv.url), temperature=0.8, n=2, seed=1)
    assert [(c.text, c.stop_reason) for c in result.choices] == [("ab", "length"), ("xy", "stop")]
    assert len(srv.requests) == 1, "the server gave both choices: no second request"
