"""The command line's model flags become the server's starting settings, which the
editor's settings then override."""

from __future__ import annotations

from pathlib import Path

import pytest

from starcoder_ls.cli import build_parser, settings_from_args
from starcoder_ls.lsp.server import create_server
from starcoder_ls.tools.eval import runner
from starcoder_ls.tools.shared import server_args

REMOTE = ["--backend", "openai", "--endpoint", "http://gpu-box:8000/v1/"]


def test_remote_flags_become_settings() -> None:
    args = build_parser().parse_args(["serve", *REMOTE, "--remote-model", " bigcode/sc2 "])
    settings = settings_from_args(args)
    assert (settings.backend, settings.endpoint, settings.remote_model) == (
        "openai",
        "http://gpu-box:8000/v1",
        "bigcode/sc2",
    )


def test_without_remote_flags_the_model_runs_here() -> None:
    settings = settings_from_args(build_parser().parse_args(["serve", "--model", "/m"]))
    assert (settings.backend, settings.endpoint, settings.remote_model) == ("local", "", "")
    assert settings.model == "/m"
    assert settings.draft_model == ""


def test_a_tcp_server_can_be_given_its_draft_model() -> None:
    flags = ["serve", "--tcp", "0", "--model", "/sc", "--draft-model", "/tiny_starcoder"]
    settings = settings_from_args(build_parser().parse_args(flags))
    assert (settings.model, settings.draft_model) == ("/sc", "/tiny_starcoder")
    assert settings.model_key != settings_from_args(build_parser().parse_args(flags[:-2])).model_key


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--backend", "vllm"], "invalid choice: 'vllm'"),
        (["--endpoint", "gpu-box:8000"], "must be an http:// or https:// URL"),
    ],
    ids=["unknown-backend", "endpoint-without-scheme"],
)
def test_a_bad_remote_flag_is_a_usage_error(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", *flags])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_editors_settings_override_the_flags() -> None:
    args = build_parser().parse_args(["serve", *REMOTE, "--remote-model", "bigcode/sc2"])
    server = create_server(settings_from_args(args))
    try:
        reload = server.adopt_options({"starcoder": {"remoteModel": "bigcode/sc2-7b"}})
        settings = server.settings
    finally:
        server.service.shutdown()
    assert reload, "another model: reloaded"
    assert (settings.backend, settings.endpoint, settings.remote_model) == (
        "openai",
        "http://gpu-box:8000/v1",
        "bigcode/sc2-7b",
    )


@pytest.mark.parametrize("command", [["demo"], ["eval", "single-line"], ["bench", "replay"]])
def test_commands_that_start_a_server_pass_the_remote_flags_on(command: list[str]) -> None:
    args = build_parser().parse_args([*command, *REMOTE, "--remote-model", "sc2"])
    flags = server_args(args, Path("/tmp/s.log"))
    assert flags[flags.index("--backend") + 1] == "openai"
    assert flags[flags.index("--endpoint") + 1] == "http://gpu-box:8000/v1"
    assert flags[flags.index("--remote-model") + 1] == "sc2"
    served = build_parser().parse_args(["serve", *flags])
    assert settings_from_args(served).backend == "openai"
    local = server_args(build_parser().parse_args(command), Path("/tmp/s.log"))
    assert "--backend" not in local and "--endpoint" not in local
    assert runner.server_args is server_args, "eval starts its server with the same flags"
