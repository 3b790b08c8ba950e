# The secure session after the handshake: every frame carries a MAC over a per-direction
# counter and everything in the frame but its CRC, so a replayed, reordered, truncated or
# altered frame fails. The counter is implicit (never on the wire): nobody can rewind it.
from binascii import crc32
from struct import pack, pack_into

from . import codec, crypto, frame
from ._const import const

_MAC = const(8)


class SessionError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Session:
    def __init__(self, send, recv):
        self._send = send  # HmacKey for frames this side sends
        self._recv = recv
        self.sent = 0
        self.received = 0

    def seal(self, t, seq, m):
        payload = codec.encode(t, m)
        head = pack("<HBB", 2 + len(payload) + _MAC, t | codec.SECURED, seq & 0xFF)
        mac = self._send.mac(b"S" + self.sent.to_bytes(4, "big") + head + payload)[:_MAC]
        self.sent += 1
        return frame.encode(t, seq, payload + mac, True)

    def seal_into(self, t, seq, buf):
        """seal() for a large message the caller encoded in place: `buf` (a bytearray) is the
        whole frame, its payload already at buf[5:-12]; the head, MAC and CRC are written
        around it. No copy of the payload is made."""
        n = len(buf) - 5 - _MAC - codec.CRC_LEN
        if 2 + n + _MAC > codec.MAX_LENGTH:
            raise frame.FrameError("bad_length")
        mv = memoryview(buf)
        buf[0] = codec.START
        pack_into("<HBB", buf, 1, 2 + n + _MAC, t | codec.SECURED, seq & 0xFF)
        buf[5 + n : 5 + n + _MAC] = self._send.mac(b"S" + self.sent.to_bytes(4, "big"), mv[1 : 5 + n])[:_MAC]
        pack_into("<L", buf, 5 + n + _MAC, crc32(mv[1 : 5 + n + _MAC]))
        self.sent += 1
        return buf

    def open(self, raw, decode=None):
        """(type, seq, fields) of a frame from the peer; SessionError, and no change, if not genuine.
        `decode(t, payload)` (codec.decode's contract; the payload a memoryview) may keep a
        large message as it is rather than build its fields."""
        try:
            t, secured, seq, payload = frame.split(raw)
        except frame.FrameError as e:
            raise SessionError("frame_" + e.reason) from None
        if not secured or len(payload) < _MAC:
            raise SessionError("not_secured")
        expected = self._recv.mac(b"S" + self.received.to_bytes(4, "big"), memoryview(raw)[1 : -codec.CRC_LEN - _MAC])[:_MAC]
        if not crypto.ct_equal(payload[-_MAC:], expected):
            raise SessionError("bad_mac")
        try:
            m = (decode or codec.decode)(t, memoryview(payload)[:-_MAC])
        except codec.CodecError:
            raise SessionError("bad_payload") from None
        self.received += 1
        return t, seq, m
