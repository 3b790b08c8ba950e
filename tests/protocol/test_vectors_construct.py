"""The construct definitions against the golden vectors and the invalid-frame table."""

import json
import struct

import pytest

from keylock.protocol import frame
from keylock.protocol.codes import MsgType
from keylock.protocol.vectors import VECTORS_FILE, build, from_json, load

VECTORS = load()
INVALID = json.loads((VECTORS_FILE.parent / "invalid_frames.json").read_text())["frames"]
ERRORS = {cls.reason: cls for cls in frame.FrameError.__subclasses__()}


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in VECTORS])
def test_construct_parses_the_golden_frame(vector):
    decoded = frame.decode_frame(bytes.fromhex(vector["hex"]))
    assert decoded.type == MsgType[vector["type"]]
    assert decoded.seq == vector["seq"]
    assert decoded.fields == from_json(vector["fields"])
    assert decoded.mac == (bytes.fromhex(vector["mac"]) if vector["mac"] else None)


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in VECTORS])
def test_construct_rebuilds_the_golden_frame(vector):
    assert build(vector).hex() == vector["hex"]


def test_every_message_type_has_a_golden_vector():
    assert {MsgType[v["type"]] for v in VECTORS} == set(MsgType)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in INVALID])
def test_invalid_frame_is_rejected_with_the_right_error(case):
    with pytest.raises(ERRORS[case["reason"]]):
        frame.decode_frame(bytes.fromhex(case["hex"]))


def crc32_bitwise(data: bytes) -> int:
    """CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) bit by bit: independent of zlib."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc_reference_check_value():
    assert crc32_bitwise(b"123456789") == 0xCBF43926  # the catalogued CRC-32 check value


def test_frame_packed_by_hand():
    # PAIR (0x4C), seq 10, phone 501: length counts header, seq and the 4-byte payload.
    body = bytes([0x06, 0x00, 0x4C, 0x0A]) + (501).to_bytes(4, "little")
    by_hand = b"\xa5" + body + struct.pack("<I", crc32_bitwise(body))
    assert frame.encode_frame(MsgType.PAIR, {"phone_id": 501}, seq=10) == by_hand
    decoded = frame.decode_frame(by_hand)
    assert (decoded.type, decoded.seq, decoded.fields) == (MsgType.PAIR, 10, {"phone_id": 501})


def test_secured_frame_packed_by_hand():
    mac = bytes(range(8))
    # length 0x12: header and seq, 8 bytes of AUDIT_ACK, the 8-byte MAC
    body = bytes([0x12, 0x00, 0x80 | 0x14, 0x06]) + (101).to_bytes(4, "little") + (42).to_bytes(4, "little") + mac
    by_hand = b"\xa5" + body + struct.pack("<I", crc32_bitwise(body))
    assert frame.encode_frame(MsgType.AUDIT_ACK, {"lock_id": 101, "up_to_seq": 42}, seq=6, mac=mac) == by_hand
