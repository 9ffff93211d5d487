"""A user and password in `starcoder.endpoint` (a gateway's basic authentication): sent as
`Authorization: Basic`, never in the request line or Host, and masked as `user:***`
wherever the endpoint is shown (log lines at every level, the status, errors)."""

from __future__ import annotations

import base64
import logging

import pytest

from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.remote.urls import Endpoint, ProxyProblem, masked_url, proxy_for
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import free_port, generate
from tests.remote.servers import LoopbackServer, openai_events, reply, routes, stream

pytestmark = pytest.mark.usefixtures("no_proxy_env")

KEY_ENV = "STARCODER_TEST_CREDENTIALS_KEY"
PASSWORD = "p@ss:w0rd/x"
"""Percent-encoded in the URL; '@', ':' and '/' are what a naive split gets wrong."""
QUOTED = "p%40ss%3Aw0rd%2Fx"
MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "vllm"}]}


def _settings(port: int) -> EngineSettings:
    return EngineSettings(
        backend="openai",
        endpoint=f"http://alice:{QUOTED}@127.0.0.1:{port}/v1",
        api_key_env=KEY_ENV,
    )


def _secret_free(text: str) -> None:
    assert PASSWORD not in text
    assert QUOTED not in text
    assert "w0rd" not in text


def test_endpoint_credentials_are_sent_as_basic_auth_and_never_shown(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    caplog.set_level(logging.DEBUG)
    table = {
        "/v1/models": reply(200, MODELS),
        "/v1/completions": stream(openai_events(["print", "(1)"])),
    }
    progress: list[str] = []
    with LoopbackServer(routes(table)) as srv:
        engine = open_remote(_settings(srv.port), lambda message, _: progress.append(message))
        result = generate(engine)
    assert result.choices[0].text == "print(1)"
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert [r.path for r in srv.requests] == ["/v1/models", "/v1/completions"]
    for request in srv.requests:
        assert request.headers["authorization"] == expected
        assert request.headers["host"] == f"127.0.0.1:{srv.port}"
        _secret_free(request.request_line)
    shown = f"http://alice:***@127.0.0.1:{srv.port}/v1"
    assert engine.info.device == shown
    assert engine.info.extra["endpoint"] == shown
    assert shown in caplog.text
    _secret_free(caplog.text)
    for record in caplog.records:
        _secret_free(record.getMessage())
    _secret_free(" ".join(progress))
    _secret_free(repr(engine.connection))


@pytest.mark.parametrize("down", [True, False], ids=["refused", "returns-503"])
def test_errors_show_the_endpoint_masked(
    down: bool, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    caplog.set_level(logging.DEBUG)
    failing = reply(503, {"error": {"message": "Loading model", "code": 503}})
    with LoopbackServer(failing) as srv:
        port = free_port() if down else srv.port
        engine = open_remote(_settings(port))
        errors = []
        for _ in range(2):  # the same failure again: the same words
            with pytest.raises(EngineError) as error:
                generate(engine)
            errors.append(str(error.value))
    assert errors[0] == errors[1]
    assert f"alice:***@127.0.0.1:{port}/v1" in errors[0]
    _secret_free(errors[0])
    _secret_free(caplog.text)


def test_a_bearer_token_wins_over_endpoint_credentials(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-token")
    caplog.set_level(logging.DEBUG)
    table = {
        "/v1/models": reply(200, MODELS),
        "/v1/completions": stream(openai_events(["ok"])),
    }
    with LoopbackServer(routes(table)) as srv:
        generate(open_remote(_settings(srv.port)))
    assert {r.headers["authorization"] for r in srv.requests} == {"Bearer sk-test-token"}
    assert "are not sent" in caplog.text, "the log says which credentials go"
    _secret_free(caplog.text)


def test_a_bad_endpoint_with_credentials_is_reported_masked() -> None:
    settings = EngineSettings(backend="openai", endpoint=f"http://alice:{QUOTED}@gpu-box:99999/v1")
    with pytest.raises(EngineError, match="invalid port") as error:
        open_remote(settings)
    assert "alice:***@gpu-box" in str(error.value)
    _secret_free(str(error.value))


def test_a_bad_proxy_with_credentials_is_reported_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"https://bob:{QUOTED}@127.0.0.1:1080")
    with pytest.raises(ProxyProblem, match="only http:// proxies") as error:
        proxy_for("http://gpu-box.example:8000/v1")
    assert "bob:***@" in str(error.value)
    _secret_free(str(error.value))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:secret@host/v1", "http://alice:***@host/v1"),
        ("https://sk-only-a-token@host:8443", "https://***@host:8443"),
        ("http://a:b@c:d@host/v1?x=@y", "http://a:***@host/v1?x=@y"),
        ("http://host:8000/v1", "http://host:8000/v1"),
        ("http://host/v1?next=http://u:p@elsewhere", "http://host/v1?next=http://u:p@elsewhere"),
        ("not a url", "not a url"),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_target_decodes_user_and_password_separately() -> None:
    target = Endpoint.parse(f"http://al%3Aice:{QUOTED}@host/v1")
    assert (target.user, target.password) == ("al:ice", PASSWORD)
    assert target.url == "http://host/v1"
    assert PASSWORD not in repr(target)


def test_a_proxy_url_that_is_not_http_is_reported_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"socks5://bob:{QUOTED}@127.0.0.1:1080")
    with pytest.raises(ProxyProblem, match="is not an http") as error:
        proxy_for("http://gpu-box.example:8000/v1")
    assert "bob:***@" in str(error.value)
    _secret_free(str(error.value))
