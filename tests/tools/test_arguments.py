"""`--settings` of `eval` and `bench replay`: one JSON-object type for both subcommands."""

from __future__ import annotations

import argparse

import pytest

from starcoder_ls.cli import build_parser
from starcoder_ls.tools.shared import settings_json

SUBCOMMANDS = [["eval", "single-line"], ["bench", "replay"]]


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=["eval", "replay"])
def test_settings_are_a_json_object(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--settings", '{"debounceMs": 0, "fim": false}'])
    assert args.settings == {"debounceMs": 0, "fim": False}


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=["eval", "replay"])
@pytest.mark.parametrize(
    ("value", "message"),
    [("{debounceMs: 0}", "not JSON"), ("[1, 2]", "must be a JSON object")],
    ids=["not-json", "not-an-object"],
)
def test_anything_else_is_a_usage_error(
    command: list[str], value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--settings", value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_message_names_what_went_wrong() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="must be a JSON object"):
        settings_json('"debounceMs"')
