"""Against a real engine: llama-cpp-python's OpenAI-compatible server on 127.0.0.1,
serving the embedded SmolLM2 GGUF, started and stopped here on a free port.

Skipped, with the reason, where llama-cpp-python's server is not installed (`make test`
builds it in its own step; it compiles llama.cpp, ~20 minutes on 2 cores the first time,
seconds once pip's cache holds the wheel) or the embedded model is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from starcoder_ls.completion.service import CompletionService
from starcoder_ls.config import Settings
from starcoder_ls.engine.base import EngineError, GenerationParams
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import free_port, generate
from tests.support.fake_engine import request_from

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_proxy_env")]

START_S = 180.0
"""Longest wait for the server to load the model and listen (seconds on an idle machine)."""
DISCONNECTED = "Disconnected from client"
"""What llama-cpp-python's server prints when a streaming client goes away (server/app.py)."""
TIMINGS = "llama_perf_context_print:        eval time"
"""Printed (verbose) at the end of every completion that runs to its end (llama.py)."""
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _gguf_or_skip() -> Path:
    missing = [
        name
        for name in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.skip(
            f"llama-cpp-python[server] is not installed (no {', '.join(missing)}): "
            "`pip install 'llama-cpp-python[server]'`, as `make test` does"
        )
    from starcoder_ls.engine import weights

    try:
        directory, name = weights.resolve_embedded()
    except EngineError as exc:
        pytest.skip(f"no model to serve: {exc}")
    return directory / name


@dataclass
class LlamaServer:
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, gguf: Path) -> None:
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048",
            "--n_threads", "2",
            # Only a closed connection may stop a generation here, not a newer request.
            "--interrupt_requests", "False",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"llama-cpp-python's server exited:\n{self.log_text()[-3000:]}")
            try:
                _DIRECT.open(f"{self.url}/models", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"llama-cpp-python's server did not start in {START_S:g} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
            self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def own_answer(self, body: dict) -> str:
        """The engine's own answer for a request body, asked without streaming."""
        data = json.dumps({**body, "stream": False}).encode()
        request = urllib.request.Request(
            f"{self.url}/completions", data=data, headers={"Content-Type": "application/json"}
        )
        with _DIRECT.open(request, timeout=120) as response:
            return json.loads(response.read())["choices"][0]["text"]

    def wait_for_log(self, text: str, count: int = 1) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.log_text().count(text) >= count:
                return True
            time.sleep(0.05)
        return False


@pytest.fixture(scope="module")
def gguf() -> Path:
    return _gguf_or_skip()


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    server.start(gguf)
    try:
        yield server
    finally:
        server.stop()


def _engine(server: LlamaServer):  # type: ignore[no-untyped-def]
    return open_remote(EngineSettings(backend="openai", endpoint=server.url), None)


def test_the_streamed_greedy_answer_is_the_engines_own(llama_server: LlamaServer) -> None:
    engine = _engine(llama_server)
    assert engine.info.model == "remote: llama-cpp-python SmolLM2-135M-Instruct.Q4_1.gguf"
    prompt = "def fibonacci(n):\n"
    result = generate(engine, prompt, max_new_tokens=24)
    text = result.choices[0].text
    assert text.strip(), "an empty answer would make the comparison meaningless"
    own = llama_server.own_answer({"prompt": prompt, "max_tokens": 24, "temperature": 0})
    assert text == own
    assert result.choices[0].tokens == 24 and result.choices[0].stop_reason == "length"


async def test_a_completion_through_the_service_is_the_engines_own(
    llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []  # the bodies of the requests the engine put on the wire
    send = httpx.AsyncClient.send

    async def recording(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        if request.method == "POST":
            sent.append(request.content)
        return await send(client, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording)
    settings = Settings(
        backend="openai",
        endpoint=llama_server.url,
        debounce_ms=0,
        prefetch=False,
        postprocess=False,
        cross_file_context=False,
        max_new_tokens=24,
    )
    service = CompletionService(settings, current_version=lambda uri: 1)
    try:
        assert (await service.load()).model.startswith("remote: llama-cpp-python ")
        answer = await service.complete(
            request_from("def fibonacci(n):\n    if n <= 1:\n        return █\n")
        )
    finally:
        service.shutdown()
    assert len(sent) == 1
    body = json.loads(sent[0])
    own = llama_server.own_answer(body)
    assert own.strip()
    # The line's end is found here (a line ahead: the engine is asked to write on past it),
    # so the answer is the engine's own text up to its first line break.
    assert "\n" not in body.get("stop", [])
    assert [s.text for s in answer.suggestions] == [own.split("\n", 1)[0]]


async def test_cancel_closes_the_stream_and_the_engine_stops(llama_server: LlamaServer) -> None:
    engine = _engine(llama_server)
    before = llama_server.log_text()
    counts: list[int] = []
    fifth = asyncio.Event()

    def on_token(count: int) -> None:
        counts.append(count)
        if count >= 5:
            fifth.set()

    params = GenerationParams(max_new_tokens=1000)
    task = asyncio.create_task(engine.generate("1, 2, 3, 4, 5, 6,", params, on_token=on_token))
    await asyncio.wait_for(fifth.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 5 <= counts[-1] < 20
    assert llama_server.wait_for_log(DISCONNECTED, before.count(DISCONNECTED) + 1), (
        "the server never saw the client go"
    )
    # The engine's own accounting: every completion that runs to its end prints its
    # timings. After the cancelled one and a short one, only the short one's appear.
    own = llama_server.own_answer({"prompt": "x", "max_tokens": 4, "temperature": 0})
    assert llama_server.wait_for_log(TIMINGS, before.count(TIMINGS) + 1)
    time.sleep(0.5)  # a late block for the cancelled generation would show up by now
    after = llama_server.log_text()[len(before) :]
    assert after.count(TIMINGS) == 1, after[-3000:]
    assert "/     4 runs" in after.split(TIMINGS)[1].splitlines()[0], own


def test_a_prompt_longer_than_the_engines_window_is_a_clear_error(
    llama_server: LlamaServer,
) -> None:
    """llama-cpp-python answers 200, then ends the stream without an event (its reason,
    "Requested tokens (3001) exceed context window of 2048", goes to its own log only)."""
    engine = _engine(llama_server)
    with pytest.raises(EngineError) as info:
        generate(engine, "word " * 3000, max_new_tokens=8)
    assert str(info.value) == (
        f"llama-cpp-python at {llama_server.url}: "
        "the stream ended before the engine finished (after 0 tokens)"
    )
    assert llama_server.wait_for_log("exceed context window of 2048")


def test_engine_down_and_back(gguf: Path, tmp_path: Path) -> None:
    server = LlamaServer(free_port(), tmp_path / "server.log")
    server.start(gguf)
    try:
        engine = _engine(server)
        params = {"max_new_tokens": 4}
        assert generate(engine, "x", **params).choices[0].text
        server.stop()
        for _ in range(2):  # every call while it is down says so
            with pytest.raises(EngineError, match="refused") as info:
                generate(engine, "x", **params)
            assert info.value.retry and info.value.retry_after_s is not None
        server.start(gguf)
        result = generate(engine, "x", **params)
        assert result.choices[0].text == server.own_answer(
            {"prompt": "x", "max_tokens": 4, "temperature": 0}
        )
    finally:
        server.stop()
