"""Field names on the wire."""

from __future__ import annotations

import pytest

from starcoder_ls.text.names import camel


@pytest.mark.parametrize(
    ("name", "wire"),
    [("enabled", "enabled"), ("max_new_tokens", "maxNewTokens"), ("api_key_env", "apiKeyEnv")],
)
def test_camel(name: str, wire: str) -> None:
    assert camel(name) == wire
