"""The completion service on a remote backend, through its default engine factory: the
service does not know which engine it talks to; the status names the remote one."""

from __future__ import annotations

import pytest

from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineError
from starcoder_ls.service import CompletionService
from tests.remote.servers import LoopbackServer, openai_events, reply, routes, stream
from tests.support.fake_engine import request_from

pytestmark = pytest.mark.usefixtures("no_proxy_env")

MODELS = {"data": [{"id": "bigcode/starcoder2-3b", "owned_by": "vllm", "max_model_len": 4096}]}


def _service(endpoint: str, **overrides: object) -> CompletionService:
    settings = Settings(
        backend="openai",
        endpoint=endpoint,
        debounce_ms=0,
        postprocess=False,
        cross_file_context=False,
        **overrides,
    )
    return CompletionService(settings, current_version=lambda uri: 1)


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
    assert "\n" in body["stop"], "a single-line request stops at the line's end"


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
