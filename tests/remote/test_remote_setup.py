"""Opening a remote engine: settings, what the probe tells, the tokenizer or the estimate,
and that nothing of the local model (torch, transformers) is loaded."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from starcoder_ls.config import Settings, merge
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import generate
from tests.remote.servers import LoopbackServer, openai_events, reply, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")


def _openai(models: dict) -> LoopbackServer:
    table = {
        "/v1/models": reply(200, models),
        "/v1/completions": stream(openai_events(["x"])),
    }
    return LoopbackServer(routes(table))


VLLM_MODELS = {
    # GET /v1/models of vLLM: ModelCard in vllm/entrypoints/openai/protocol.py.
    "object": "list",
    "data": [
        {
            "id": "bigcode/starcoder2-3b",
            "object": "model",
            "created": 1733011200,
            "owned_by": "vllm",
            "root": "bigcode/starcoder2-3b",
            "parent": None,
            "max_model_len": 8192,
        }
    ],
}


def test_settings_of_the_remote_backends() -> None:
    result = merge(
        Settings(),
        {
            "backend": "openai",
            "endpoint": "http://gpu-box:8000/v1/",
            "remoteModel": "bigcode/starcoder2-3b",
            "apiKeyEnv": "TEAM_TOKEN",
            "caBundle": "~/team-ca.pem",
            "connectTimeoutMs": 500,
            "readTimeoutMs": 5000,
        },
    )
    assert result.errors == []
    settings = result.settings
    assert settings.endpoint == "http://gpu-box:8000/v1", "a trailing slash is dropped"
    assert (settings.api_key_env, settings.read_timeout_ms) == ("TEAM_TOKEN", 5000)
    bad = merge(Settings(), {"backend": "vllm", "endpoint": "gpu-box:8000", "apiKeyEnv": "A-B"})
    assert len(bad.errors) == 3 and bad.settings == Settings()
    assert "local, openai, tgi, ollama" in bad.errors[0]
    assert "http:// or https:// URL" in bad.errors[1]
    assert "environment variable name" in bad.errors[2]


def test_model_key_follows_the_backend() -> None:
    local, remote = Settings(), Settings(backend="openai")
    assert local.model_key != remote.model_key
    assert Settings(endpoint="http://a:1").model_key == local.model_key, "unused while local"
    assert Settings(dtype="float16").model_key != local.model_key
    for change in ({"endpoint": "http://b:1"}, {"remoteModel": "m"}, {"caBundle": "/ca.pem"}):
        assert merge(remote, change).settings.model_key != remote.model_key, change
    assert merge(remote, {"dtype": "float16"}).settings.model_key == remote.model_key


def test_the_probe_names_engine_model_and_window() -> None:
    with _openai(VLLM_MODELS) as srv:
        engine = open_remote(EngineSettings(backend="openai", endpoint=f"{srv.url}/v1"), None)
        assert generate(engine).choices[0].text == "x"
    assert engine.info.model == "remote: vLLM bigcode/starcoder2-3b"
    assert engine.info.context_window == 8192
    assert engine.info.template.name == "starcoder2"
    assert srv.requests[1].json()["model"] == "bigcode/starcoder2-3b"


def test_llama_cpp_python_serving_a_gguf_path() -> None:
    listing = {"data": [{"id": "/models/smollm2.gguf", "owned_by": "me", "object": "model"}]}
    with _openai(listing) as srv:
        engine = open_remote(EngineSettings(backend="openai", endpoint=f"{srv.url}/v1"), None)
    assert engine.info.model == "remote: llama-cpp-python smollm2.gguf"
    assert engine.info.template.name == "prefix-only"


def test_an_engine_that_is_down_does_not_fail_the_load(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    engine = open_remote(EngineSettings(backend="openai", endpoint="http://127.0.0.1:9/v1"), None)
    assert engine.info.model == "remote: OpenAI-compatible server (its default model)"
    assert "refused" in caplog.text and "completions will try again" in caplog.text


def test_without_a_tokenizer_the_estimate_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with _openai({"data": [{"id": "my-private-model", "owned_by": "vllm"}]}) as srv:
        engine = open_remote(EngineSettings(backend="openai", endpoint=f"{srv.url}/v1"), None)
    assert engine.count_tokens("a" * 10) == 4, "10 characters / 2.5"
    for _ in range(3):
        engine.count_tokens("def f():\n    return 1\n")
    assert caplog.text.count("estimated as characters / 2.5") == 1


def test_the_tokenizer_of_a_local_directory(tiny_starcoder_dir: Path) -> None:
    from tokenizers import Tokenizer

    own = Tokenizer.from_file(str(tiny_starcoder_dir / "tokenizer.json"))
    with _openai({"data": [{"id": "served-name", "owned_by": "vllm"}]}) as srv:
        settings = EngineSettings(
            backend="openai", endpoint=f"{srv.url}/v1", model=str(tiny_starcoder_dir)
        )
        engine = open_remote(settings, None)
    text = "<fim_prefix>def add(a, b):\n    return a + b\n<fim_suffix><fim_middle>"
    assert engine.count_tokens(text) == len(own.encode(text, add_special_tokens=False).ids)
    assert engine.info.template.name == "starcoder", "detected from its special tokens"


def test_the_tokenizer_from_the_hub_cache_offline(
    tiny_starcoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    # The hub cache's layout: models--{org}--{name}/refs/main -> snapshots/{commit}/...
    repo = tmp_path / "models--bigcode--starcoder"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_starcoder_dir / name, snapshot / name)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listing = {"data": [{"id": "bigcode/starcoder", "owned_by": "vllm"}]}
    with _openai(listing) as srv:
        engine = open_remote(EngineSettings(backend="openai", endpoint=f"{srv.url}/v1"), None)
    assert engine.count_tokens("<fim_prefix>") == 1, "a special token, as the engine counts it"
    assert engine.info.template.name == "starcoder"
    assert engine.info.context_window == 8192, "the models table's window for bigcode/starcoder"


def test_a_remote_backend_imports_neither_torch_nor_transformers() -> None:
    with _openai(VLLM_MODELS) as srv:
        script = textwrap.dedent(
            f"""
            import asyncio, sys
            from starcoder_ls.engine.settings import EngineSettings
            from starcoder_ls.engine.base import GenerationParams
            from starcoder_ls.engine.remote.setup import open_remote
            engine = open_remote(EngineSettings(backend="openai", endpoint="{srv.url}/v1"), None)
            result = asyncio.run(engine.generate("x", GenerationParams()))
            print(result.choices[0].text, "torch" in sys.modules, "transformers" in sys.modules)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).parents[2],
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["x", "False", "False"]
