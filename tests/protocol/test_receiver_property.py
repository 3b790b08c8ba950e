"""The firmware's frame receiver on random noisy streams: never raises, recovers every frame
that was not damaged, in order, however the stream is chunked; the same on MicroPython."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import frames

from keylock.firmware.frame import Receiver
from keylock.protocol import frame


@st.composite
def noisy_streams(draw):
    """(stream, frames that must come out, chunk sizes): garbage around frames, some damaged."""
    stream = b""
    expected = []
    for _ in range(draw(st.integers(0, 6))):
        stream += draw(st.binary(max_size=40) | st.lists(st.sampled_from([0xA5, 0x00, 0xFF]), max_size=8).map(bytes))
        msg_type, seq, fields, mac = draw(frames())
        raw = frame.encode_frame(msg_type, fields, seq, mac)
        if draw(st.booleans()) and draw(st.booleans()):  # damage about one frame in four
            at = draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
        else:
            expected.append(raw)
        stream += raw
    stream += draw(st.binary(max_size=40))
    chunks = draw(st.lists(st.integers(1, 64), max_size=20))
    return stream, expected, chunks


def receive(stream, chunks):
    receiver = Receiver()
    got, at = [], 0
    for size in chunks:
        got += receiver.feed(stream[at : at + size])
        at += size
    got += receiver.feed(stream[at:])
    return got + receiver.idle()


@given(noisy_streams())
@settings(max_examples=400)
def test_receiver_recovers_every_undamaged_frame(case):
    stream, expected, chunks = case
    assert receive(stream, chunks) == expected


@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=20))
def test_receiver_never_raises_on_any_bytes(data, chunks):
    for got in receive(data, chunks):
        frame.split_frame(got)  # anything it returns has a valid start, length and CRC


@given(noisy_streams())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_receiver_on_micropython_agrees(micropython, case):
    stream, expected, chunks = case
    got = micropython.eval(f"fwenv.receive({stream.hex()!r}, {json.dumps(chunks)})")
    assert got == [f.hex() for f in expected]
