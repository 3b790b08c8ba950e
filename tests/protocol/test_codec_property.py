"""Random valid messages built by construct equal the firmware codec's bytes, both ways,
under CPython and under real MicroPython."""

import json

from hypothesis import HealthCheck, given, settings
from strategies import frames

from keylock.firmware import frame as fw_frame
from keylock.protocol import frame
from keylock.protocol.vectors import to_json


@given(frames())
@settings(max_examples=300)
def test_firmware_codec_matches_construct_on_cpython(example):
    msg_type, seq, fields, mac = example
    built = frame.encode_frame(msg_type, fields, seq, mac)
    assert fw_frame.encode_message(int(msg_type), seq, fields, mac) == built
    t, seq2, decoded, mac2 = fw_frame.decode(built)
    assert (t, seq2, decoded, mac2) == (msg_type, seq, fields, mac)
    assert frame.decode_frame(built).fields == fields


@given(frames())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_firmware_codec_matches_construct_on_micropython(micropython, example):
    msg_type, seq, fields, mac = example
    built = frame.encode_frame(msg_type, fields, seq, mac)
    mac_hex = mac.hex() if mac else None
    fields_json = json.dumps(to_json(fields))
    encoded, t, seq2, decoded, mac2 = micropython.eval(
        f"fwenv.roundtrip({int(msg_type)}, {seq}, json.loads({fields_json!r}), {mac_hex!r}, {built.hex()!r})"
    )
    assert encoded == built.hex()
    assert (t, seq2, decoded, mac2) == (int(msg_type), seq, to_json(fields), mac_hex)
