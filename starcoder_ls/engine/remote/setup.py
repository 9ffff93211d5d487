"""Opening a remote engine: `open_remote(settings, progress)`, the factory for `backend`
"openai", "tgi" and "ollama".

It never loads model weights. A quick look at the engine (its model list or info page)
names the server and model for the status line and may give the context window; an
engine that is down does not fail the load, its first request will say so. Prompts are
measured with the model's own tokenizer when one can be read without the network (a
local directory, or the hub cache with `local_files_only`), else estimated from their
length with a safety margin, which the log says once.

A user and password in the endpoint URL are sent as basic authentication unless a bearer
token is set (both would be the `Authorization` header), and are never shown: the status
and every message name the endpoint as `http://user:***@host/...`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starcoder_ls.engine import fim, models, weights
from starcoder_ls.engine.base import EngineError, EngineInfo, ProgressCallback
from starcoder_ls.engine.remote.client import (
    CHARS_PER_TOKEN,
    DEADLINE_READ_TIMEOUTS,
    FALLBACK_CONTEXT,
    PROBE_TIMEOUT_S,
    Connection,
    RemoteEngine,
    masked,
)
from starcoder_ls.engine.remote.dialects import DIALECTS, Dialect, Probe
from starcoder_ls.engine.remote.transport import TransportError, fetch, system_tls
from starcoder_ls.engine.remote.urls import Endpoint, is_loopback, masked_url
from starcoder_ls.engine.settings import EngineSettings

log = logging.getLogger(__name__)


def open_remote(settings: EngineSettings, progress: ProgressCallback | None = None) -> RemoteEngine:
    """A `RemoteEngine` for the settings; EngineError for settings that cannot work."""
    report = progress or (lambda message, percent: None)
    connection = _connection(settings)
    report(f"Asking {connection.where} what it serves", 20)
    probe = _probe(connection)
    connection = _served(connection, probe, settings.remote_model)
    report("Looking for the model's tokenizer on this machine", 50)
    tokenizer = offline_tokenizer([settings.model or "", connection.model])
    info = _info(settings, connection, probe, tokenizer)
    count = _counter(tokenizer, connection)
    log.info(
        "%s: model %s, template %s, context window %d",
        connection.where,
        _shown(connection.model) or "(default)",
        info.template.name,
        info.context_window,
    )
    report(f"{info.model} ready", 100)
    return RemoteEngine(connection, info=info, count_tokens=count)


def _connection(settings: EngineSettings) -> Connection:
    """How to reach the engine, as the settings say (before it is asked anything)."""
    dialect = DIALECTS.get(settings.backend)
    if dialect is None:
        raise EngineError(f"backend {settings.backend!r} is not a remote engine", retry=False)
    endpoint = settings.endpoint or dialect.default_endpoint
    try:
        target = Endpoint.parse(endpoint)
    except ValueError as exc:
        raise EngineError(f"starcoder.endpoint: {exc}", retry=False) from None
    if dialect.name == "ollama" and not settings.remote_model:
        raise EngineError(
            "the ollama backend needs starcoder.remoteModel: the name of a pulled model, "
            "e.g. qwen2.5-coder:1.5b-base",
            retry=False,
        )
    token = _token(settings.api_key_env, target)
    _note_credentials(target, token, settings.api_key_env)
    return Connection(
        dialect=dialect,
        endpoint=endpoint,
        label=dialect.label,
        model=settings.remote_model,
        token=token,
        connect_timeout=settings.connect_timeout_ms / 1000,
        read_timeout=settings.read_timeout_ms / 1000,
        tls=_tls_context(settings.ca_bundle) if target.scheme == "https" else None,
        max_stops=dialect.max_stops,
    )


def _served(connection: Connection, probe: Probe, asked: str) -> Connection:
    """The connection named as the probe found the engine, with the model to ask for."""
    dialect = connection.dialect
    # The model the engine serves (OpenAI's first listed, TGI's only one); Ollama serves
    # whichever is asked for, so there only the setting names it.
    served = probe.models[0] if probe.models and dialect.name != "ollama" else ""
    model = asked or served
    if dialect.name == "ollama":
        _check_ollama_model(model, probe, connection)
    return dataclasses.replace(
        connection,
        label=probe.label or dialect.label,
        model=model,
        max_stops=probe.max_stops or dialect.max_stops,
    )


def _info(
    settings: EngineSettings,
    connection: Connection,
    probe: Probe,
    tokenizer: OfflineTokenizer | None,
) -> EngineInfo:
    name = tokenizer.name if tokenizer else connection.model
    template = choose_template(settings.fim_template, tokenizer, name)
    window = (
        settings.context_window
        or probe.context_window
        or _known_window(name)
        or (tokenizer.max_length if tokenizer else None)
        or FALLBACK_CONTEXT
    )
    return EngineInfo(
        model=_status_name(connection.label, connection.model),
        template=template,
        context_window=window,
        device=connection.shown_endpoint,
        dtype="remote",
        extra={"backend": connection.dialect.name, "endpoint": connection.shown_endpoint},
    )


def remote_label(settings: EngineSettings) -> str:
    """The status's name for a remote backend before the engine has said what it serves
    (while loading, or when that fails): the backend's generic name and the model asked
    for; once ready, the engine's own name and served model replace them."""
    dialect = DIALECTS.get(settings.backend)
    return _status_name(dialect.label if dialect else settings.backend, settings.remote_model)


def _status_name(engine: str, model: str) -> str:
    """`remote: <engine> <model>`, as every status of a remote backend names it."""
    return f"remote: {engine} {_shown(model) or '(its default model)'}"


def _shown(model: str) -> str:
    """A model served from a file is named by the file, not the server's whole path."""
    return Path(model).name if weights.looks_like_path(model) else model


def _token(env: str, target: Endpoint) -> str:
    token = os.environ.get(env, "").strip()
    if not token:
        log.info("no bearer token: $%s is not set", env)
        return ""
    log.info("sending the bearer token from $%s", env)
    if target.scheme == "http" and not is_loopback(target.host):
        log.warning(
            "the bearer token from $%s goes to %s unencrypted (http://); use https://",
            env,
            target.authority,
        )
    return token


def _note_credentials(target: Endpoint, token: str, env: str) -> None:
    if not target.has_credentials:
        return
    if token:
        log.warning(
            "the user and password in starcoder.endpoint are not sent: the bearer token "
            "from $%s is (both would be the Authorization header)",
            env,
        )
        return
    log.info("sending the user and password in starcoder.endpoint as basic authentication")
    if target.scheme == "http" and not is_loopback(target.host):
        log.warning(
            "the password in starcoder.endpoint goes to %s unencrypted (http://); use https://",
            target.authority,
        )


def _tls_context(ca_bundle: str) -> ssl.SSLContext:
    """Certificates are verified always; `caBundle` replaces the system's CA store."""
    if not ca_bundle:
        return system_tls()
    path = Path(ca_bundle).expanduser()
    if not path.is_file():
        raise EngineError(f"starcoder.caBundle: {ca_bundle} is not a file", retry=False)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise EngineError(
            f"starcoder.caBundle: {ca_bundle} is not a PEM CA file: {exc}", retry=False
        ) from None


def _probe(connection: Connection) -> Probe:
    """GET the engine's model list or info page; an empty Probe when that fails.

    A GET is safe to repeat, so a connection broken mid-answer is tried once more. Each
    try has a deadline, as completions have, so that an answer that never ends cannot
    hold the load.
    """
    dialect: Dialect = connection.dialect
    url = dialect.url(connection.endpoint, dialect.probe_path)
    headers = {k: v for k, v in connection.headers().items() if k != "Content-Type"}
    log.debug("GET %s headers=%s", masked_url(url), masked(headers))
    read_timeout = min(connection.read_timeout, PROBE_TIMEOUT_S)
    timeouts = (min(connection.connect_timeout, PROBE_TIMEOUT_S), read_timeout)
    for attempt in (1, 2):
        try:
            status, body = fetch(
                url,
                headers,
                timeouts=timeouts,
                tls=connection.tls,
                deadline=time.monotonic() + DEADLINE_READ_TIMEOUTS * read_timeout,
            )
        except TransportError as exc:
            if exc.kind == "protocol" and attempt == 1:
                continue
            log.warning("%s: %s (completions will try again)", connection.where, exc)
            return Probe()
        if status != 200:
            log.warning("%s: GET %s returned %d", connection.where, dialect.probe_path, status)
            return Probe()
        try:
            return dialect.probe(json.loads(body))
        except ValueError:
            log.warning("%s: GET %s did not return JSON", connection.where, dialect.probe_path)
            return Probe()
    return Probe()


def _check_ollama_model(model: str, probe: Probe, connection: Connection) -> None:
    pulled = set(probe.models)
    if pulled and model not in pulled and f"{model}:latest" not in pulled:
        log.warning(
            "%s has no model %s (it has %s); pull it with `ollama pull %s`",
            connection.where,
            model,
            ", ".join(sorted(pulled)),
            model,
        )


@dataclass(frozen=True)
class OfflineTokenizer:
    """A model's `tokenizer.json`, read with the `tokenizers` library: exact counts without
    importing transformers or torch, which a remote back-end never needs."""

    name: str
    tokenizer: Any
    special_tokens: tuple[str, ...]
    max_length: int | None

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


def offline_tokenizer(names: list[str]) -> OfflineTokenizer | None:
    """The first of `names` (local directories or hub ids) whose tokenizer is on this
    machine: in the directory, or in the hub cache. Never downloads."""
    for name in dict.fromkeys(n for n in names if n and not n.lower().endswith(".gguf")):
        files = _tokenizer_files(name)
        if files is None:
            continue
        try:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(files[0]))
        except Exception as exc:  # a broken file: the estimate will do
            log.warning("cannot read the tokenizer %s: %s", files[0], exc)
            continue
        config = _read_json(files[1]) if files[1] else {}
        added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
        limit = config.get("model_max_length")
        return OfflineTokenizer(
            name=name,
            tokenizer=tokenizer,
            special_tokens=tuple(added),
            max_length=limit if isinstance(limit, int) and limit < 1_000_000 else None,
        )
    return None


def _tokenizer_files(name: str) -> tuple[Path, Path | None] | None:
    path = Path(name).expanduser()
    if path.is_dir():
        config = path / "tokenizer_config.json"
        found = path / "tokenizer.json"
        return (found, config if config.is_file() else None) if found.is_file() else None
    if weights.looks_like_path(name):
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name, "tokenizer.json")
        config = try_to_load_from_cache(name, "tokenizer_config.json")
    except ValueError:  # not a hub id at all (Ollama's "codellama:code", ...)
        return None
    if not isinstance(found, str):
        return None
    return Path(found), Path(config) if isinstance(config, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def choose_template(
    name: str | None, tokenizer: OfflineTokenizer | None, model: str
) -> fim.FimTemplate:
    """The setting; else the known model's format (if the tokenizer, when there is one, has
    its sentinels); else detection from the tokenizer; else prefix-only."""
    try:
        if name:
            return fim.get_template(name)
        known = models.lookup(model) if model else None
        if known is not None:
            chosen = fim.get_template(known.template)
            if tokenizer is None:
                return chosen
            missing = set(chosen.missing_tokens(list(tokenizer.special_tokens)))
            if not missing & set(chosen.required_tokens):
                return chosen
        if tokenizer is not None:
            return fim.detect_template(tokenizer.special_tokens, model)
        return fim.get_template("prefix-only")
    except ValueError as exc:
        raise EngineError(str(exc), retry=False) from None


def _known_window(model: str) -> int | None:
    known = models.lookup(model) if model else None
    return known.context_window if known else None


def _counter(tokenizer: OfflineTokenizer | None, connection: Connection) -> Callable[[str], int]:
    if tokenizer is not None:
        log.info("counting prompt tokens with the tokenizer of %s", tokenizer.name)
        return tokenizer.count
    log.info(
        "%s: no tokenizer of %s can be read on this machine; prompt tokens are estimated "
        "as characters / %.1f, which over-counts to keep prompts inside the context window "
        "(set starcoder.model to the model's local directory or hub id for exact counts)",
        connection.where,
        connection.model or "its model",
        CHARS_PER_TOKEN,
    )
    return lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)
