# The firmware codec against the golden vectors and the invalid-frame table.
from fwenv import TYPE_CODES, codec, frame, from_json, load


def test_decodes_every_golden_vector():
    for v in load("messages.json", "vectors"):
        t, seq, fields, mac = frame.decode(bytes.fromhex(v["hex"]))
        assert t == TYPE_CODES[v["type"]], v["id"]
        assert seq == v["seq"], v["id"]
        assert fields == from_json(v["fields"]), v["id"]
        assert mac == (bytes.fromhex(v["mac"]) if v["mac"] else None), v["id"]


def test_encodes_every_golden_vector():
    for v in load("messages.json", "vectors"):
        mac = bytes.fromhex(v["mac"]) if v["mac"] else None
        raw = frame.encode_message(TYPE_CODES[v["type"]], v["seq"], from_json(v["fields"]), mac)
        assert raw.hex() == v["hex"], v["id"]


def test_rejects_every_invalid_frame_with_its_reason():
    for case in load("invalid_frames.json", "frames"):
        try:
            frame.decode(bytes.fromhex(case["hex"]))
        except frame.FrameError as e:
            assert e.reason == case["reason"], (case["id"], e.reason)
        else:
            raise AssertionError("accepted " + case["id"])


def test_encoder_refuses_what_construct_refuses():
    bad = [
        (codec.T_HS_HELLO, {"key_id": 1, "nonce": b"short"}),  # wrong byte length
        (codec.T_HS_HELLO, {"key_id": -1, "nonce": bytes(16)}),  # out of range
        (codec.T_HS_HELLO, {"key_id": 1 << 32, "nonce": bytes(16)}),
        (codec.T_HS_HELLO, {"nonce": bytes(16)}),  # missing field
        (codec.T_RESULT, {"code": 200}),  # unknown code
        (codec.T_AUDIT_BATCH, {"records": [{}] * 65}),  # too many items
        (0x7E, {}),  # unknown type
    ]
    for t, m in bad:
        try:
            codec.encode(t, m)
        except codec.CodecError:
            pass
        else:
            raise AssertionError("encoded %r" % (m,))
