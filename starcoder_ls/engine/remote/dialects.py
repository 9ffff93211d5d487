"""The three HTTP APIs a remote engine can speak: requests out, stream events in.

Each dialect turns our `GenerationParams` into its API's request body and one line of
its stream into `Piece`s; the transport, stop strings, cancellation and errors are the
same for all and live in `remote.py`. Formats, as their projects document them:

- OpenAI-compatible `POST /v1/completions` with `"stream": true` (vLLM, llama.cpp's
  llama-server, llama-cpp-python's server): server-sent events `data: {"choices": [{"index",
  "text", "finish_reason"}]}`, ended by `data: [DONE]`.
- TGI `POST /generate_stream`: events `data:{"token": {"text", "special"}, "generated_text",
  "details": {"finish_reason", "generated_tokens"}}`; `generated_text` is set on the last.
- Ollama `POST /api/generate` with `"raw": true`: one JSON object per line, `{"response",
  "done"}`, the last with `"done": true`, `done_reason` and `eval_count`.

Errors inside a stream arrive as an object with an `error` key in all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starcoder_ls.engine.base import GenerationParams


@dataclass(frozen=True)
class Piece:
    """One event of a stream, for one choice."""

    index: int = 0
    text: str = ""
    token: bool = False
    """The event stands for one generated token (counted when no exact count comes)."""
    finish: str | None = None
    """Why this choice ended, in `Generation.stop_reason`'s words ("eos", "stop", "length")."""
    tokens: int | None = None
    """Exact number of tokens of the choice, where the engine says so at the end."""
    done: bool = False
    """The whole response is over (OpenAI's `[DONE]`, TGI's and Ollama's last event)."""


class RemoteError(Exception):
    """The engine reported an error (in the body of a failed request or inside a stream)."""


class MalformedStream(Exception):
    """A line that is not what the API documents (not JSON, wrong shape)."""


@dataclass(frozen=True)
class Probe:
    """What a quick look at the running engine told us; every field optional."""

    label: str = ""
    models: tuple[str, ...] = ()
    """The models it serves (OpenAI's /v1/models ids, TGI's model_id, Ollama's pulled tags)."""
    context_window: int | None = None
    max_stops: int | None = None


class Dialect:
    name = ""
    label = ""
    """How the engine is named in messages until a probe says better."""
    default_endpoint = ""
    generate_path = ""
    probe_path = ""
    max_stops: int | None = None
    """How many stop strings the API accepts; the rest are checked here only."""
    many_choices = False
    """Whether one request can ask for `n` choices."""

    def url(self, endpoint: str, path: str) -> str:
        return endpoint.rstrip("/") + path

    def body(
        self, prompt: str, params: GenerationParams, model: str, n: int, stops: list[str]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, line: str) -> list[Piece]:
        raise NotImplementedError

    def probe(self, data: Any) -> Probe:
        return Probe()


def _json(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise MalformedStream(f"not JSON: {payload[:80]!r}") from None


def _sse_data(line: str) -> str | None:
    """The payload of an SSE `data:` line (one optional space after the colon is not data)."""
    if not line.startswith("data:"):
        return None  # comments (": keep-alive"), "event:", "id:" and blank separators
    payload = line[5:]
    return payload[1:] if payload.startswith(" ") else payload


def error_text(data: Any) -> str | None:
    """The message of an error object in any of the APIs' shapes, else None."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error:
        kind = data.get("error_type")
        return f"{error} ({kind})" if kind else str(error)
    if data.get("object") == "error":
        return str(data.get("message") or data)
    detail = data.get("detail")
    if detail:
        return detail if isinstance(detail, str) else json.dumps(detail)[:300]
    return None


class OpenAI(Dialect):
    name = "openai"
    label = "OpenAI-compatible server"
    default_endpoint = "http://127.0.0.1:8000/v1"
    generate_path = "/completions"
    probe_path = "/models"
    many_choices = True
    _OWNERS = {"vllm": "vLLM", "llamacpp": "llama-server", "me": "llama-cpp-python"}

    def body(
        self, prompt: str, params: GenerationParams, model: str, n: int, stops: list[str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "n": n,
            "stream": True,
        }
        if model:
            body["model"] = model
        if params.temperature > 0:
            body["top_p"] = params.top_p
            if params.seed is not None:
                body["seed"] = params.seed
        if stops:
            body["stop"] = stops
        return body

    def parse(self, line: str) -> list[Piece]:
        payload = _sse_data(line)
        if payload is None or not payload.strip():
            return []
        if payload.strip() == "[DONE]":
            return [Piece(done=True)]
        data = _json(payload)
        message = error_text(data)
        if message:
            raise RemoteError(message)
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list):
            raise MalformedStream(f"an event without choices: {payload[:80]!r}")
        pieces = []
        for choice in choices:
            text = choice.get("text") or ""
            finish = _openai_finish(choice)
            pieces.append(Piece(int(choice.get("index", 0)), text, bool(text), finish))
        return pieces

    def probe(self, data: Any) -> Probe:
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list) or not models or not isinstance(models[0], dict):
            return Probe()
        first = models[0]
        window = first.get("max_model_len")
        return Probe(
            label=self._OWNERS.get(str(first.get("owned_by", "")).lower(), ""),
            models=tuple(str(m.get("id", "")) for m in models if isinstance(m, dict)),
            context_window=window if isinstance(window, int) else None,
        )


def _openai_finish(choice: dict[str, Any]) -> str | None:
    reason = choice.get("finish_reason")
    if reason is None:
        return None
    if reason == "length":
        return "length"
    # vLLM tells a stop string (str) from EOS (None); others only say "stop" for both.
    if "stop_reason" in choice and not isinstance(choice["stop_reason"], str):
        return "eos"
    return "stop"


class Tgi(Dialect):
    name = "tgi"
    label = "TGI"
    default_endpoint = "http://127.0.0.1:8080"
    generate_path = "/generate_stream"
    probe_path = "/info"
    max_stops = 4
    """TGI's default `--max-stop-sequences`; /info gives the server's own."""
    _FINISH = {"eos_token": "eos", "stop_sequence": "stop", "length": "length"}

    def body(
        self, prompt: str, params: GenerationParams, model: str, n: int, stops: list[str]
    ) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "details": True,
            "return_full_text": False,
            "do_sample": params.temperature > 0,
        }
        if params.temperature > 0:
            parameters["temperature"] = params.temperature
            if 0 < params.top_p < 1:  # TGI refuses 1.0: "must be strictly between 0 and 1"
                parameters["top_p"] = params.top_p
            if params.seed is not None:
                parameters["seed"] = params.seed
        if stops:
            parameters["stop"] = stops
        return {"inputs": prompt, "parameters": parameters}

    def parse(self, line: str) -> list[Piece]:
        payload = _sse_data(line)
        if payload is None or not payload.strip():
            return []
        data = _json(payload)
        message = error_text(data)
        if message:
            raise RemoteError(message)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, dict):
            raise MalformedStream(f"an event without a token: {payload[:80]!r}")
        text = "" if token.get("special") else str(token.get("text", ""))
        if data.get("generated_text") is None:
            return [Piece(text=text, token=True)]
        details = data.get("details") or {}
        return [
            Piece(
                text=text,
                token=True,
                finish=self._FINISH.get(details.get("finish_reason"), "stop"),
                tokens=details.get("generated_tokens"),
                done=True,
            )
        ]

    def probe(self, data: Any) -> Probe:
        if not isinstance(data, dict):
            return Probe()
        window = data.get("max_total_tokens")
        stops = data.get("max_stop_sequences")
        return Probe(
            label="TGI",
            models=(str(data.get("model_id", "")),),
            context_window=window if isinstance(window, int) else None,
            max_stops=stops if isinstance(stops, int) else None,
        )


class Ollama(Dialect):
    name = "ollama"
    label = "Ollama"
    default_endpoint = "http://127.0.0.1:11434"
    generate_path = "/api/generate"
    probe_path = "/api/tags"
    _FINISH = {"stop": "stop", "length": "length"}

    def body(
        self, prompt: str, params: GenerationParams, model: str, n: int, stops: list[str]
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_predict": params.max_new_tokens,
            "temperature": params.temperature,
        }
        if params.temperature > 0:
            options["top_p"] = params.top_p
            if params.seed is not None:
                options["seed"] = params.seed
        if stops:
            options["stop"] = stops
        return {"model": model, "prompt": prompt, "raw": True, "stream": True, "options": options}

    def parse(self, line: str) -> list[Piece]:
        if not line.strip():
            return []
        data = _json(line)
        message = error_text(data)
        if message:
            raise RemoteError(message)
        if not isinstance(data, dict) or "done" not in data:
            raise MalformedStream(f"an object without done: {line[:80]!r}")
        text = str(data.get("response", ""))
        if not data["done"]:
            return [Piece(text=text, token=bool(text))]
        count = data.get("eval_count")
        return [
            Piece(
                text=text,
                token=bool(text),
                finish=self._FINISH.get(data.get("done_reason"), "stop"),
                tokens=count if isinstance(count, int) else None,
                done=True,
            )
        ]

    def probe(self, data: Any) -> Probe:
        models = data.get("models") if isinstance(data, dict) else None
        names = [m.get("name", "") for m in models or [] if isinstance(m, dict)]
        return Probe(label="Ollama", models=tuple(names))


DIALECTS: dict[str, Dialect] = {d.name: d for d in (OpenAI(), Tgi(), Ollama())}
