"""The completion service on a remote backend, through its default engine factory: the
service does not know which engine it talks to; the status names the remote one."""

from __future__ import annotations

import pytest

from starcoder_ls.completion.lifecycle import ModelStatus
from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.remote.client import Backoff, RemoteEngine
from tests.remote.servers import LoopbackServer, openai_events, reply, routes, stream
from tests.support.fake_engine import request_from

pytestmark = pytest.mark.usefixtures("no_proxy_env")

MODELS = {"data": [{"id": "bigcode/starcoder2-3b", "owned_by": "vllm", "max_model_len": 4096}]}


def _service(
    endpoint: str, statuses: list[ModelStatus] | None = None, **overrides: object
) -> CompletionService:
    options: dict[str, object] = {"backend": "openai", **overrides}
    settings = Settings(
        endpoint=endpoint,
        debounce_ms=0,
        postprocess=False,
        cross_file_context=False,
        **options,
    )
    publish = statuses.append if statuses is not None else lambda status: None
    return CompletionService(settings, current_version=lambda uri: 1, on_status=publish)


async def test_a_completion_through_the_service_and_its_status() -> None:
    table = {
        "/v1/models": reply(200, MODELS),
        "/v1/completions": stream(openai_events(["a + b", "\n", "print(a)"])),
    }
    with LoopbackServer(routes(table)) as srv:
        service = _service(f"{srv.url}/v1", prefetch=False)
        try:
            status = await service.load()
            assert (status.state, status.model) == ("ready", "remote: vLLM bigcode/starcoder2-3b")
            assert status.template == "starcoder2"
            answer = await service.complete(request_from("def add(a, b):\n    return █\n"))
        finally:
            service.shutdown()
    assert [s.text for s in answer.suggestions] == ["a + b"]
    body = srv.requests[-1].json()
    assert "<fim_prefix>" in body["prompt"], "the service's own FIM prompt, template and all"
    assert "def add(a, b):\n    return " in body["prompt"]
    # The line's end is found here (past a leading break, a line ahead): not the engine's.
    assert "\n" not in body.get("stop", [])


async def test_an_engine_error_reaches_the_server_once() -> None:
    failing = reply(503, {"error": {"message": "Loading model"}})
    table = {"/v1/models": reply(200, MODELS), "/v1/completions": failing}
    with LoopbackServer(routes(table)) as srv:
        service = _service(f"{srv.url}/v1", prefetch=False)
        try:
            await service.load()
            with pytest.raises(EngineError, match="vLLM at .* returned 503: Loading model"):
                await service.complete(request_from("x = █\n"))
            again = await service.complete(request_from("x = █\n", version=2))
        finally:
            service.shutdown()
    assert again.suggestions == []
    posted = [r for r in srv.requests if r.path.endswith("/completions")]
    assert len(posted) == 1, "the second request falls in the back-off: nothing is sent"
    assert service.stats.model_calls == 0, "neither the failed call nor the skipped one counts"


async def test_every_status_of_a_remote_backend_names_it_remote() -> None:
    """Loading, ready and error all say `remote: <engine> <model>`, never the embedded
    model's name; before the engine answers, the backend's generic name stands for it."""
    table = {"/v1/models": reply(200, MODELS)}
    statuses: list[ModelStatus] = []
    with LoopbackServer(routes(table)) as srv:
        service = _service(f"{srv.url}/v1", statuses, remote_model="bigcode/starcoder2-3b")
        try:
            assert service.status.model == "remote: OpenAI-compatible server bigcode/starcoder2-3b"
            await service.load()
        finally:
            service.shutdown()
    assert [(s.state, s.model) for s in statuses] == [
        ("loading", "remote: OpenAI-compatible server bigcode/starcoder2-3b"),
        ("ready", "remote: vLLM bigcode/starcoder2-3b"),
    ]


@pytest.mark.parametrize(
    ("endpoint", "overrides", "model", "why"),
    [
        (
            "http://127.0.0.1:1",
            {"backend": "ollama"},
            "remote: Ollama (its default model)",
            "needs starcoder.remoteModel",
        ),
        (
            "ftp://127.0.0.1:1",
            {"remote_model": "/models/coder.gguf"},
            "remote: OpenAI-compatible server coder.gguf",
            "starcoder.endpoint",
        ),
    ],
    ids=["ollama-without-a-model", "a-bad-endpoint"],
)
async def test_a_failed_remote_load_names_the_remote_model(
    endpoint: str, overrides: dict[str, object], model: str, why: str
) -> None:
    statuses: list[ModelStatus] = []
    service = _service(endpoint, statuses, **overrides)
    try:
        status = await service.load()
    finally:
        service.shutdown()
    assert status.state == "error" and why in status.message
    assert [(s.state, s.model) for s in statuses] == [("loading", model), ("error", model)]


async def test_a_remote_engine_in_back_off_stays_in_error_until_it_answers() -> None:
    """A call skipped during back-off is not an answer: only the engine answering again
    makes the status ready."""
    table = {
        "/v1/models": reply(200, MODELS),
        "/v1/completions": reply(503, {"error": {"message": "Loading model"}}),
    }
    now = [0.0]
    with LoopbackServer(routes(table)) as srv:
        service = _service(f"{srv.url}/v1", prefetch=False)
        try:
            assert (await service.load()).state == "ready"
            engine = service.model.engine
            assert isinstance(engine, RemoteEngine)
            engine.backoff = Backoff(first=10.0)
            service.failures.clock = lambda: now[0]
            with pytest.raises(EngineError, match="503"):
                await service.complete(request_from("x = █\n"))
            assert service.status.state == "error"
            asked = len(srv.requests)

            skipped = await service.complete(request_from("x = █\n"))
            assert skipped.suggestions == [] and len(srv.requests) == asked, "not asked"
            assert service.status.state == "error", "a skipped call is not a success"

            table["/v1/completions"] = stream(openai_events(["a + b"]))
            now[0] = 11.0  # past the back-off
            answer = await service.complete(request_from("x = █\n"))
            assert [s.text for s in answer.suggestions] == ["a + b"]
            assert (service.status.state, service.status.model) == (
                "ready",
                "remote: vLLM bigcode/starcoder2-3b",
            )
        finally:
            service.shutdown()
