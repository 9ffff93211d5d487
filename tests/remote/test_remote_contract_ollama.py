"""Contract tests for Ollama, against its documented responses (not a running Ollama).

The responses in `recorded/ollama_documented_*.ndjson` follow https://docs.ollama.com/api/
streaming and https://docs.ollama.com/api/errors (sources in `recorded/README.md`); a
socket on 127.0.0.1 replays them. Requests are checked against the documented
`POST /api/generate` parameters (`docs/api.md` in github.com/ollama/ollama: model, prompt,
raw, stream, options with num_predict, temperature, top_p, seed, stop).
"""

from __future__ import annotations

import pytest

from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import generate, make_engine
from tests.remote.servers import LoopbackServer, recorded, reply, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")

NDJSON = "application/x-ndjson"
TAGS = {"models": [{"name": "codellama:code", "model": "codellama:code", "size": 3825910662}]}


def _ollama(name: str) -> LoopbackServer:
    table = {
        "/api/tags": reply(200, TAGS),
        "/api/generate": stream(recorded(name), content_type=NDJSON),
    }
    return LoopbackServer(routes(table))


def test_raw_stream_text_count_and_reason() -> None:
    with _ollama("ollama_documented_stream.ndjson") as srv:
        engine = make_engine(srv.url, "ollama", model="codellama:code")
        result = generate(engine, "def compute_gcd(a, b):", max_new_tokens=64, stop=("\n\n",))
    choice = result.choices[0]
    assert choice.text == "\n  if a == 0:\n    return b"
    assert (choice.tokens, choice.stop_reason) == (10, "stop"), "eval_count is the count"
    body = srv.requests[0].json()
    assert body == {
        "model": "codellama:code",
        "prompt": "def compute_gcd(a, b):",
        "raw": True,
        "stream": True,
        "options": {"num_predict": 64, "temperature": 0.0, "stop": ["\n\n"]},
    }


def test_sampling_options() -> None:
    with _ollama("ollama_documented_stream.ndjson") as srv:
        generate(make_engine(srv.url, "ollama", model="m"), temperature=0.5, top_p=0.8, seed=3)
    options = srv.requests[0].json()["options"]
    assert (options["temperature"], options["top_p"], options["seed"]) == (0.5, 0.8, 3)


def test_an_error_object_mid_stream() -> None:
    with (
        _ollama("ollama_documented_error_mid_stream.ndjson") as srv,
        pytest.raises(EngineError) as info,
    ):
        generate(make_engine(srv.url, "ollama", model="gemma3"))
    assert str(info.value) == (
        f"Ollama at {srv.url} reported an error: an error was encountered while running the model"
    )


def test_a_model_that_is_not_pulled() -> None:
    # api/types.go StatusError: {"error": "..."} with the HTTP status.
    missing = reply(404, {"error": "model 'starcoder2:3b' not found"})
    with (
        LoopbackServer(routes({"/api/generate": missing})) as srv,
        pytest.raises(EngineError) as info,
    ):
        generate(make_engine(srv.url, "ollama", model="starcoder2:3b"))
    assert str(info.value).endswith("returned 404: model 'starcoder2:3b' not found")


def test_open_remote_needs_a_model_name_and_reports_the_engine() -> None:
    with pytest.raises(EngineError, match="needs starcoder.remoteModel"):
        open_remote(EngineSettings(backend="ollama", endpoint="http://127.0.0.1:9"), None)
    with _ollama("ollama_documented_stream.ndjson") as srv:
        engine = open_remote(
            EngineSettings(backend="ollama", endpoint=srv.url, remote_model="codellama:code"), None
        )
        assert engine.info.model == "remote: Ollama codellama:code"
        assert generate(engine).choices[0].text.startswith("\n  if a == 0:")
