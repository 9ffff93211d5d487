"""The HTTP layer under the remote engines: proxies from the environment, TLS with
verification and a CA bundle, CONNECT tunnels, body framings. Real sockets on 127.0.0.1;
a host name like `gpu-box.example` is only ever resolved by the test proxy, never by DNS.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from starcoder_ls.engine.base import EngineError
from starcoder_ls.engine.remote.setup import open_remote
from starcoder_ls.engine.remote.urls import proxy_for
from starcoder_ls.engine.settings import EngineSettings
from tests.remote.engines import generate, make_engine
from tests.remote.servers import (
    LoopbackServer,
    openai_events,
    reply,
    routes,
    stream,
    tunnel_to,
)

pytestmark = pytest.mark.usefixtures("no_proxy_env")

REMOTE_HOST = "gpu-box.example"
MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "vllm"}]}


def _engine_routes() -> dict:
    return {
        "/v1/models": reply(200, MODELS),
        "/v1/completions": stream(openai_events(["print", "(1)"])),
    }


def test_http_proxy_from_the_environment_gets_the_absolute_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {f"http://{REMOTE_HOST}:8000/v1/completions": stream(openai_events(["ok"]))}
    with LoopbackServer(lambda ex: table[ex.request.path](ex)) as proxy:
        monkeypatch.setenv("http_proxy", f"http://alice:s3cret@127.0.0.1:{proxy.port}")
        result = generate(make_engine(f"http://{REMOTE_HOST}:8000"))
    assert result.choices[0].text == "ok"
    request = proxy.requests[0]
    assert request.request_line == f"POST http://{REMOTE_HOST}:8000/v1/completions HTTP/1.1"
    assert request.headers["host"] == f"{REMOTE_HOST}:8000"
    expected = base64.b64encode(b"alice:s3cret").decode()
    assert request.headers["proxy-authorization"] == f"Basic {expected}"


def test_no_proxy_and_loopback_are_not_proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "internal.example")
    assert proxy_for("http://gpu.internal.example:8000/v1") is None
    assert proxy_for("http://127.0.0.1:8000/v1") is None
    assert proxy_for("http://localhost:8000/v1") is None
    assert proxy_for("http://gpu-box.example:8000/v1") == "http://proxy.example:3128"


def test_content_length_framing_and_chunk_extensions() -> None:
    body = "".join(openai_events(["a", "b"]))

    def chunk_ext(exchange):  # type: ignore[no-untyped-def]
        exchange.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        data = body.encode()
        exchange.send(f"{len(data):x};name=value\r\n".encode() + data + b"\r\n0\r\n\r\n")

    sized = reply(200, body, content_type="text/event-stream")
    for handler in (sized, chunk_ext):
        with LoopbackServer(routes({"/v1/completions": handler})) as srv:
            assert generate(make_engine(srv.url)).choices[0].text == "ab"


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA and a server certificate for 127.0.0.1 and gpu-box.example."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: no test certificates")
    out = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=out, check=True, capture_output=True, timeout=60)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=starcoder-ls test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={REMOTE_HOST}")
    (out / "ext.cnf").write_text(
        f"subjectAltName=DNS:{REMOTE_HOST},IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return {name: out / f"{name}.pem" for name in ("ca", "server")} | {"key": out / "server.key"}


def _tls_server(certificates: dict[str, Path]) -> LoopbackServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["server"], certificates["key"])
    return LoopbackServer(routes(_engine_routes()), tls=context)


def test_https_with_the_ca_bundle(certificates: dict[str, Path]) -> None:
    with _tls_server(certificates) as srv:
        settings = EngineSettings(
            backend="openai", endpoint=f"{srv.url}/v1", ca_bundle=str(certificates["ca"])
        )
        engine = open_remote(settings, None)
        assert engine.info.model == "remote: vLLM tiny"
        assert generate(engine).choices[0].text == "print(1)"


def test_a_certificate_the_system_does_not_trust_is_a_clear_error(
    certificates: dict[str, Path],
) -> None:
    with _tls_server(certificates) as srv:
        engine = open_remote(EngineSettings(backend="openai", endpoint=f"{srv.url}/v1"), None)
        with pytest.raises(EngineError) as info:
            generate(engine)
    message = str(info.value)
    assert "TLS certificate of 127.0.0.1" in message and "could not be verified" in message
    assert "starcoder.caBundle" in message


def test_a_missing_ca_bundle_file_fails_the_load() -> None:
    settings = EngineSettings(
        backend="openai", endpoint="https://127.0.0.1:9/v1", ca_bundle="/no/ca.pem"
    )
    with pytest.raises(EngineError, match="caBundle: /no/ca.pem is not a file"):
        open_remote(settings, None)


def test_https_through_a_connect_tunnel(
    certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _tls_server(certificates) as engine_srv,
        LoopbackServer(tunnel_to(engine_srv.port)) as proxy,
    ):
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
        settings = EngineSettings(
            backend="openai",
            endpoint=f"https://{REMOTE_HOST}:{engine_srv.port}/v1",
            ca_bundle=str(certificates["ca"]),
        )
        engine = open_remote(settings, None)
        result = generate(engine)
    assert result.choices[0].text == "print(1)"
    connects = [r.request_line for r in proxy.requests]
    assert connects == [f"CONNECT {REMOTE_HOST}:{engine_srv.port} HTTP/1.1"] * 2
    assert [r.path for r in engine_srv.requests] == ["/v1/models", "/v1/completions"]


def test_a_proxy_that_refuses_the_tunnel_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoopbackServer(reply(403, {"error": "not allowed"})) as proxy:
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
        engine = make_engine(f"https://{REMOTE_HOST}:8443")
        with pytest.raises(EngineError) as info:
            generate(engine)
    assert str(info.value) == (
        f"OpenAI-compatible server at https://{REMOTE_HOST}:8443/v1: proxy 127.0.0.1:"
        f"{proxy.port} refused a tunnel to {REMOTE_HOST}:8443: 403 Status"
    )
    assert info.value.retry and info.value.retry_after_s is not None


def test_a_proxy_that_cannot_be_used_fails_the_call_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("http_proxy", "socks5://bob:secret@127.0.0.1:1080")
    with pytest.raises(EngineError, match="is not an http") as info:
        generate(make_engine(f"http://{REMOTE_HOST}:8000"))
    assert "bob:***@" in str(info.value) and "secret" not in str(info.value)
