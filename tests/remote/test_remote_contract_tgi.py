"""Contract tests for TGI, against its documented responses (not a running TGI).

The responses in `recorded/tgi_documented_*.sse` are TGI's published output and the
formats of its router (sources in `recorded/README.md`); a socket on 127.0.0.1 replays
them. The requests are checked against the documented `POST /generate_stream` body:
https://huggingface.github.io/text-generation-inference/ (GenerateRequest,
GenerateParameters) and https://huggingface.co/docs/text-generation-inference.
"""

from __future__ import annotations

import pytest

from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import generate, make_engine
from tests.remote.servers import LoopbackServer, recorded, reply, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")

INFO = {
    # GET /info, the `Info` struct of router/src/lib.rs as TGI 2.x serves it.
    "model_id": "bigcode/starcoder2-3b",
    "model_sha": "733247c55e3f73af49ce8e9c7949bf14af205928",
    "model_pipeline_tag": "text-generation",
    "max_concurrent_requests": 128,
    "max_best_of": 2,
    "max_stop_sequences": 4,
    "max_input_tokens": 4095,
    "max_total_tokens": 4096,
    "validation_workers": 2,
    "max_client_batch_size": 4,
    "router": "text-generation-router",
    "version": "2.4.1",
}


def test_greedy_stream_text_tokens_and_reason() -> None:
    with LoopbackServer(
        routes({"/generate_stream": stream(recorded("tgi_documented_stream.sse"))})
    ) as srv:
        result = generate(make_engine(srv.url, "tgi"), "What is Deep Learning?")
    choice = result.choices[0]
    assert choice.text == " Deep Learning is a", "the special end token's text is not kept"
    assert (choice.tokens, choice.stop_reason) == (5, "eos")
    body = srv.requests[0].json()
    assert srv.requests[0].path == "/generate_stream"
    assert body["inputs"] == "What is Deep Learning?"
    assert body["parameters"] == {
        "max_new_tokens": 128,
        "details": True,
        "return_full_text": False,
        "do_sample": False,
    }


def test_sampling_parameters_and_the_stop_limit() -> None:
    stops = ("\n\n", "\nclass", "\ndef", "\n#", "\nif")
    with LoopbackServer(
        routes({"/generate_stream": stream(recorded("tgi_documented_stream.sse"))})
    ) as srv:
        generate(
            make_engine(srv.url, "tgi"),
            temperature=0.6,
            top_p=0.9,
            seed=7,
            max_new_tokens=40,
            stop=stops,
        )
        generate(make_engine(srv.url, "tgi"), temperature=0.6, top_p=1.0)
    sampled = srv.requests[0].json()["parameters"]
    assert sampled["do_sample"] is True
    assert (sampled["temperature"], sampled["top_p"], sampled["seed"]) == (0.6, 0.9, 7)
    assert sampled["max_new_tokens"] == 40
    assert sampled["stop"] == list(stops[:4]), "TGI refuses more than max_stop_sequences"
    assert "top_p" not in srv.requests[1].json()["parameters"], "TGI refuses top_p = 1.0"


def test_stop_strings_beyond_the_servers_limit_are_applied_here() -> None:
    with LoopbackServer(
        routes({"/generate_stream": stream(recorded("tgi_documented_stream.sse"))})
    ) as srv:
        result = generate(make_engine(srv.url, "tgi"), stop=("<1>", "<2>", "<3>", "<4>", " is"))
    assert result.choices[0].text == " Deep Learning"
    assert result.choices[0].stop_reason == "stop"


def test_an_error_event_in_a_200_stream() -> None:
    lines = recorded("tgi_documented_validation_error.sse")
    with (
        LoopbackServer(routes({"/generate_stream": stream(lines)})) as srv,
        pytest.raises(EngineError) as info,
    ):
        generate(make_engine(srv.url, "tgi"))
    assert str(info.value) == (
        f"TGI at {srv.url} reported an error: Input validation error: `stop` supports up to "
        "4 stop sequences. Given: 5 (validation)"
    )


def test_open_remote_reads_the_info_page() -> None:
    table = {
        "/info": reply(200, INFO),
        "/generate_stream": stream(recorded("tgi_documented_stream.sse")),
    }
    with LoopbackServer(routes(table)) as srv:
        engine = open_remote(EngineSettings(backend="tgi", endpoint=srv.url), None)
        assert engine.info.model == "remote: TGI bigcode/starcoder2-3b"
        assert engine.info.template.name == "starcoder2", "the known model's FIM format"
        assert engine.info.context_window == 4096
        assert engine.connection.max_stops == 4
        assert generate(engine).choices[0].text == " Deep Learning is a"
