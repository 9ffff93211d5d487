"""Framing: harmless header variants are read, bad frames are skipped once, and reading
always resumes at the next valid header."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starcoder_ls.lsp.framing import (
    LENGTH_SLACK,
    MAX_BODY,
    BadFrame,
    FrameParser,
    Message,
    Oversized,
    Unparsable,
)

EXAMPLES = int(os.environ.get("STARCODER_FUZZ_EXAMPLES", "150"))


def body(n: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "m", "params": {"t": "é😀"}}).encode()


def frame(data: bytes, header: bytes | None = None) -> bytes:
    return (header or b"Content-Length: %d\r\n\r\n" % len(data)) + data


def messages(events: list) -> list:
    return [event.value["id"] for event in events if isinstance(event, Message)]


def bad(events: list) -> list[BadFrame]:
    return [event for event in events if isinstance(event, BadFrame)]


def test_a_plain_frame_and_two_in_one_read() -> None:
    parser = FrameParser()
    assert messages(parser.feed(frame(body(1)))) == [1]
    assert messages(parser.feed(frame(body(2)) + frame(body(3)))) == [2, 3]


def test_byte_by_byte() -> None:
    parser = FrameParser()
    events = []
    for byte in frame(body(1)) + frame(body(2)):
        events += parser.feed(bytes([byte]))
    assert messages(events) == [1, 2]
    assert not bad(events)


@pytest.mark.parametrize(
    "header",
    [
        b"content-length: %d\r\n\r\n",
        b"CONTENT-LENGTH: %d\r\n\r\n",
        b"Content-Length: %d\n\n",
        b"Content-Length:%d\r\n\r\n",
        b"Content-Length:  %d  \r\n\r\n",
        b"Content-Length : %d\r\n\r\n",
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
        b"Content-Length: %d\r\nX-Other: 1\n\r\n",
    ],
)
def test_harmless_header_variants_are_accepted(header: bytes) -> None:
    data = body(1)
    parser = FrameParser()
    events = parser.feed(frame(data, header % len(data)) + frame(body(2)))
    assert messages(events) == [1, 2]
    assert not bad(events)


@pytest.mark.parametrize("delta", [-3, -1, 1, 3])
def test_a_length_a_few_bytes_off_still_delivers_both_messages(delta: int) -> None:
    data = body(1)
    header = b"Content-Length: %d\r\n\r\n" % (len(data) + delta)
    parser = FrameParser()
    events = parser.feed(frame(data, header) + frame(body(2)))
    assert messages(events) == [1, 2]
    assert len(bad(events)) == 1


def test_a_length_too_long_is_answered_before_the_next_message_arrives() -> None:
    data = body(1)
    parser = FrameParser()
    assert messages(parser.feed(frame(data, b"Content-Length: %d\r\n\r\n" % (len(data) + 3)))) == [
        1
    ]
    assert messages(parser.feed(frame(body(2)))) == [2]


def test_whitespace_padding_inside_the_declared_length_is_fine() -> None:
    data = body(1) + b"  \r\n"
    parser = FrameParser()
    events = parser.feed(frame(data) + frame(body(2)))
    assert messages(events) == [1, 2]
    assert not bad(events)


def test_an_enormous_length_is_refused_and_reading_goes_on() -> None:
    parser = FrameParser()
    events = parser.feed(b"Content-Length: 100000000000000\r\n\r\n" + body(1) + frame(body(2)))
    assert messages(events) == [2]
    assert len(bad(events)) == 1
    assert "limit" in bad(events)[0].reason


def test_a_length_just_over_the_limit_is_refused() -> None:
    parser = FrameParser(max_body=100)
    events = parser.feed(b"Content-Length: 101\r\n\r\n" + b"x" * 101 + frame(body(2)))
    assert messages(events) == [2]
    assert FrameParser().feed(b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))[0] == Oversized(
        f"Content-Length {MAX_BODY + 1} is over the {MAX_BODY}-byte limit", length=MAX_BODY + 1
    )


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\r\n\r\n",
        b"Content-Length: abc\r\n\r\n",
        b"Content-Length: -5\r\n\r\n",
        b"Content-Type: text/plain\r\n\r\n",
        b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"\x00\xff\xfe garbage without any line end " * 400,
        b"}}",
    ],
)
def test_garbage_is_reported_once_and_skipped(garbage: bytes) -> None:
    parser = FrameParser()
    events = parser.feed(garbage + frame(body(1)) + frame(body(2)))
    assert messages(events) == [1, 2]
    assert len(bad(events)) == 1


def test_garbage_arriving_in_pieces_is_reported_once() -> None:
    parser = FrameParser()
    events = []
    for _ in range(50):
        events += parser.feed(b"noise " * 400)
    events += parser.feed(frame(body(1)))
    assert messages(events) == [1]
    assert len(bad(events)) == 1


def test_a_body_that_is_not_json_is_unparsable_and_the_next_is_read() -> None:
    parser = FrameParser()
    events = parser.feed(frame(b"{not json}") + frame(body(2)))
    assert [type(event) for event in events] == [Unparsable, Message]
    events = parser.feed(frame(b'{"a": "\xff"}') + frame(body(3)))
    assert [type(event) for event in events] == [Unparsable, Message]


def test_a_short_length_beyond_the_slack_is_unparsable() -> None:
    data = json.dumps({"id": 1, "pad": "x" * (LENGTH_SLACK * 2)}).encode()
    parser = FrameParser()
    events = parser.feed(b"Content-Length: 10\r\n\r\n" + data + frame(body(2)))
    assert isinstance(events[0], Unparsable)
    assert messages(events) == [2]


def test_the_sample_of_a_bad_frame_is_short() -> None:
    events = FrameParser().feed(b"x" * 100_000 + frame(body(1)))
    assert len(bad(events)[0].sample) <= 200


# -- property: any junk between valid frames never loses a valid frame after it -----------

junk = st.binary(max_size=40).filter(lambda b: b"content-length" not in b.lower())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(junk, st.integers(1, 1000)), min_size=1, max_size=6), st.data())
def test_valid_frames_after_junk_are_always_read(pieces: list, data: st.DataObject) -> None:
    stream = b"".join(j + b"\r\n\r\n" + frame(body(n)) for j, n in pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    parser = FrameParser()
    events = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += parser.feed(stream[start:end])
    assert messages(events) == [n for _, n in pieces]


# -- cost: a body trickling in is scanned once, not decoded again at every byte ------------

TRICKLE = 200_000
"""Bytes fed one at a time; at 1 byte per feed, decoding the buffered body at each byte
would cost TRICKLE**2 / 2 = 2e10 bytes of decoding."""


@pytest.mark.parametrize(
    "head",
    [b'{"jsonrpc": "2.0", "method": "m", "params": {"t": "', b'{"a": ', b'{"a": [[[['],
)
def test_a_body_trickling_in_is_decoded_a_bounded_number_of_times(
    head: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The head of a 1 MiB message, then one `}` byte per read (issue 18): each byte used
    to make the parser decode the whole buffered body again."""
    import starcoder_ls.lsp.framing as framing

    decoded: list[int] = []
    real = framing._decode_prefix

    def counting(data: bytes) -> object:
        decoded.append(len(data))
        assert sum(decoded) <= 4 * TRICKLE, f"{len(decoded)} decodes, {sum(decoded)} bytes"
        return real(data)

    monkeypatch.setattr(framing, "_decode_prefix", counting)
    parser = FrameParser()
    parser.feed(b"Content-Length: %d\r\n\r\n" % (1024 * 1024) + head)
    for _ in range(TRICKLE):
        parser.feed(b"}")
    assert len(decoded) <= 2, decoded[:10]
    assert messages(parser.feed(frame(body(7)))) in ([], [7])


def test_a_message_split_at_every_byte_is_still_taken_early() -> None:
    """The early decode (a length a few bytes too long) still happens at the message's
    end, even with braces and escaped quotes inside its strings."""
    data = json.dumps({"jsonrpc": "2.0", "id": 4, "method": "m", "params": {"t": '}"\\{'}})
    parser = FrameParser()
    events = parser.feed(b"Content-Length: %d\r\n\r\n" % (len(data) + 5))
    for byte in data.encode():
        events += parser.feed(bytes([byte]))
    assert messages(events) == [4]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet='{}[]"\\ aé😀\n', max_size=30), st.integers(0, 8), st.data())
def test_any_message_cut_anywhere_is_read_with_its_length_a_little_long(
    text: str, extra: int, data: st.DataObject
) -> None:
    payload = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "m", "params": {"t": [text]}})
    stream = b"Content-Length: %d\r\n\r\n" % (len(payload.encode()) + extra) + payload.encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    parser = FrameParser()
    events = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += parser.feed(stream[start:end])
    taken = [event.value for event in events if isinstance(event, Message)]
    assert taken == [json.loads(payload)]
