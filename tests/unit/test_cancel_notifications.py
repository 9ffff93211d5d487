"""`$/cancelRequest` in the protocol layer: editors cancel requests that were already
answered all the time (VS Code on every keystroke), which is no reason for a warning."""

from __future__ import annotations

import asyncio
import logging

import pytest

from starcoder_ls.lsp.protocol import StarcoderProtocol
from starcoder_ls.lsp.transport import HardenedLanguageServer


def initialized_protocol() -> StarcoderProtocol:
    protocol = HardenedLanguageServer("test", "0").protocol
    protocol.initialize_received = True
    return protocol


def cancel(protocol: StarcoderProtocol, msg_id: int | str) -> None:
    protocol.receive_value(
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}}
    )


@pytest.mark.parametrize("msg_id", [7, "req-7"])
async def test_a_cancel_after_the_answer_is_a_debug_line(
    caplog: pytest.LogCaptureFixture, msg_id: int | str
) -> None:
    protocol = initialized_protocol()
    caplog.set_level(logging.DEBUG)
    cancel(protocol, msg_id)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    (line,) = [r for r in caplog.records if "no longer running" in r.getMessage()]
    assert (line.name, line.levelno) == ("starcoder_ls.lsp.protocol", logging.DEBUG)
    assert repr(msg_id) in line.getMessage()


async def test_a_cancel_for_a_running_request_still_cancels_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    protocol = initialized_protocol()
    running: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    protocol._request_futures[7] = running
    caplog.set_level(logging.DEBUG)
    cancel(protocol, 7)
    assert running.cancelled()
    assert 7 not in protocol._request_futures
    assert not any("no longer running" in r.getMessage() for r in caplog.records)
