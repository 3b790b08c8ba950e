"""A short receive buffer (frame.SHORT_FRAME) on the links that carry only short frames: a
lock's answers on the key's contact, a host's requests on a lock's host link. Those links'
longest frames must fit it (here built at their maximum with the protocol's own definitions),
and a longer frame on such a link is refused as noise while the short frames around it are
still found."""

import json

from keylock.firmware import board_main, frame
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import encode_frame
from keylock.protocol.messages import MAX_AUDIT_BATCH
from keylock.protocol.vectors import VECTORS_FILE

VECTORS = {v["id"]: v for v in json.loads(VECTORS_FILE.read_text())["vectors"]}


def _fields(vector_id):
    def unhex(value):
        if isinstance(value, str):
            return bytes.fromhex(value)
        if isinstance(value, list):
            return [unhex(v) for v in value]
        if isinstance(value, dict):
            return {k: unhex(v) for k, v in value.items()}
        return value

    return unhex(VECTORS[vector_id]["fields"])


def longest_audit_batch() -> bytes:
    """A lock's largest answer: a full AUDIT_BATCH inside the session (its MAC included)."""
    fields = _fields("audit_batch")
    fields["records"] = [fields["records"][0]] * MAX_AUDIT_BATCH
    return encode_frame(MsgType.AUDIT_BATCH, fields, seq=255, mac=bytes(8))


def longest_provision() -> bytes:
    """A host's largest request to a lock: PROVISION with every group a lock may be in."""
    fields = _fields("provision_lock")
    fields["groups"] = list(range(1, 17))
    return encode_frame(MsgType.PROVISION, fields, seq=255)


def test_the_longest_frames_of_the_short_links_fit_a_short_buffer():
    for longest in (longest_audit_batch(), longest_provision()):
        assert len(longest) <= frame.SHORT_FRAME
    assert len(longest_audit_batch()) > frame.SHORT_FRAME // 2  # the bound is not loose by design either


def test_a_short_buffer_refuses_a_longer_frame_and_keeps_the_short_ones_around_it():
    short = longest_audit_batch()
    after = encode_frame(MsgType.AUDIT_BATCH, {**_fields("audit_batch"), "records": []}, seq=1)
    too_long = frame.encode(int(MsgType.BLOCKLIST_UPDATE), 2, bytes(frame.SHORT_FRAME))  # valid, but longer than the buffer
    receiver = frame.Receiver(frame.SHORT_FRAME)
    got = receiver.feed(short + too_long + after) + receiver.idle()
    assert got == [short, after]
    assert receiver.rejected >= 1
    # the same stream through a full-size buffer: the long frame is a frame there
    full = frame.Receiver()
    assert full.feed(short + too_long + after) + full.idle() == [short, too_long, after]


def test_the_host_link_of_a_lock_is_short_and_of_a_key_full():
    assert board_main.host_capacity("lock") == frame.SHORT_FRAME
    assert board_main.host_capacity("key") == frame.MAX_FRAME
