# Frames on both links (key-lock contact and host serial), and a receiver that finds them in
# a noisy byte stream. The layout is protocol/frame.py's; the constants come from the
# generated codec, and the golden vectors prove both sides agree byte for byte.
from binascii import crc32
from struct import pack, unpack_from

from . import codec
from ._const import const

_HEAD = const(3)  # start byte and u16 length
_START = b"\xa5"
# Module globals rather than codec.X attribute lookups on every frame (the hot path).
_START_BYTE = codec.START
_SECURED = codec.SECURED
_MIN_LENGTH = codec.MIN_LENGTH
_MAX_LENGTH = codec.MAX_LENGTH
_CRC_LEN = codec.CRC_LEN
_TYPES = codec.NAMES


class FrameError(ValueError):
    # `reason` is one of the strings of protocol/frame.py's FrameError subclasses.
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def encode(t, seq, payload, secured=False):
    """A frame around an already encoded payload (which ends with the MAC if secured)."""
    length = 2 + len(payload)
    if length > _MAX_LENGTH:
        raise FrameError("bad_length")
    body = pack("<HBB", length, t | _SECURED if secured else t, seq & 0xFF) + payload
    return _START + body + pack("<L", crc32(body))


def encode_body(body):
    """A frame around a body already packed from its length field on (the handshake builds
    bodies itself because its proofs cover them)."""
    return _START + body + pack("<L", crc32(body))


def encode_message(t, seq, m, mac=None):
    payload = codec.encode(t, m)
    if mac is None:
        return encode(t, seq, payload)
    return encode(t, seq, payload + mac, True)


def split(buf):
    """(type, secured, seq, payload) of exactly one frame; FrameError otherwise."""
    n = len(buf)
    if n < _HEAD:
        raise FrameError("bad_start" if n and buf[0] != _START_BYTE else "truncated")
    start, length = unpack_from("<BH", buf)
    if start != _START_BYTE:
        raise FrameError("bad_start")
    if length < _MIN_LENGTH or length > _MAX_LENGTH:
        raise FrameError("bad_length")
    end = _HEAD + length + _CRC_LEN
    if n < end:
        raise FrameError("truncated")
    if crc32(buf[1 : end - _CRC_LEN]) != unpack_from("<L", buf, end - _CRC_LEN)[0]:
        raise FrameError("bad_check")
    if n > end:
        raise FrameError("bad_length")
    header = buf[3]
    t = header & 0x7F
    if t not in _TYPES:
        raise FrameError("unknown_type")
    return t, header & _SECURED != 0, buf[4], bytes(buf[5 : end - _CRC_LEN])


def decode(buf):
    """(type, seq, fields, mac) of one frame; mac is None outside a secure session."""
    t, secured, seq, payload = split(buf)
    mac = None
    if secured:
        if len(payload) < codec.MAC_LEN:
            raise FrameError("bad_payload")
        mac = payload[-codec.MAC_LEN :]
        payload = payload[: -codec.MAC_LEN]
    try:
        return t, seq, codec.decode(t, payload), mac
    except codec.CodecError:
        raise FrameError("bad_payload") from None


def error_reply(raw, error):
    """A device's RESULT for a host frame that failed to decode, or None to stay silent: a
    frame whose start, length or CRC failed is noise, not a request."""
    if error.reason == "bad_payload":
        code = codec.ERR_BAD_REQUEST
    elif error.reason == "unknown_type":
        code = codec.ERR_UNKNOWN_COMMAND
    else:
        return None
    return encode_message(codec.T_RESULT, raw[4] if len(raw) > 4 else 0, {"code": code})


class Receiver:
    """Collects bytes and returns every complete frame whose length and CRC hold.

    Garbage, truncated frames and frames with a bad check are skipped: after any failure the
    search resumes one byte after the rejected start byte, so a real frame hidden behind a
    false start is still found. A false start that claims a long length holds the frames
    behind it until more bytes arrive or the line goes quiet (idle()). Never raises.
    """

    def __init__(self):
        self._buf = b""
        self.dropped = 0  # bytes discarded while hunting for a start
        self.rejected = 0  # candidate frames with a bad length or check

    def feed(self, data):
        self._buf += bytes(data)
        return self._scan(False)

    def idle(self):
        """The line went quiet: a pending partial frame will never complete; resync past it."""
        return self._scan(True)

    def _scan(self, final):
        frames = []
        buf = self._buf
        i = 0
        while True:
            j = buf.find(_START, i)
            if j < 0:
                self.dropped += len(buf) - i
                buf = b""
                break
            self.dropped += j - i
            if len(buf) - j < _HEAD:
                if final:
                    self.dropped += len(buf) - j
                    buf = b""
                else:
                    buf = buf[j:]
                break
            length = buf[j + 1] | buf[j + 2] << 8
            end = j + _HEAD + length + _CRC_LEN
            if length < _MIN_LENGTH or length > _MAX_LENGTH:
                self.rejected += 1
            elif len(buf) < end:
                if not final:
                    buf = buf[j:]
                    break
                self.rejected += 1
            elif crc32(buf[j + 1 : end - _CRC_LEN]) == unpack_from("<L", buf, end - _CRC_LEN)[0]:
                frames.append(buf[j:end])
                i = end
                continue
            else:
                self.rejected += 1
            self.dropped += 1
            i = j + 1
        self._buf = buf
        return frames
