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
    return _START + body + crc32(body).to_bytes(4, "little")


def encode_body(body):
    """A frame around a body already packed from its length field on (the handshake builds
    bodies itself because its proofs cover them)."""
    return _START + body + crc32(body).to_bytes(4, "little")  # to_bytes: half of pack("<L")'s time


def check_value(size):
    """crc32() of any whole, valid frame of `size` bytes, start byte and CRC included.

    CRC-32 is affine in its input, and a frame's last four bytes are the CRC of the bytes
    between: so over frames of one length, crc32 of the whole frame is one constant whatever
    the contents. A frame of a known length is then checked with one crc32 over it as it
    arrived, with no slice of its body made (the handshake's frames have fixed lengths)."""
    return crc32(encode_body(bytes(size - 1 - _CRC_LEN)))


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


_FRAMING = const(7)  # start, u16 length and CRC-32 around a frame's length-counted bytes
# The longest frame a lock sends a key (a full AUDIT_BATCH, 1,950 bytes) or a host sends a
# lock (PROVISION): a receiver on those links needs no buffer for a 16 KB blocklist, which only
# a key hears from its host and a lock from its key (tests/firmware/test_fw_frame_receiver.py).
SHORT_FRAME = const(2048)
MAX_FRAME = _HEAD + _MAX_LENGTH + _CRC_LEN  # the longest frame: the receive buffer's size


class Receiver:
    """Collects bytes and returns every complete frame whose length and CRC hold.

    Garbage, truncated frames and frames with a bad check are skipped: after any failure the
    search resumes one byte after the rejected start byte, so a real frame hidden behind a
    false start is still found. A false start that claims a long length holds the frames
    behind it until more bytes arrive or the line goes quiet (idle()). Never raises.

    The bytes are held in one buffer of the longest frame's size, allocated once: bytes
    before a start byte are counted and never stored, and a candidate frame is decided only
    when its header, then its last byte, has arrived, so nothing is scanned twice (except the
    held bytes after a rejected candidate, as the resync rule requires).

    feed_byte(c) is the board's path, one byte at a time: it allocates nothing (a test holds
    MicroPython's heap locked around it) and returns True when a candidate frame has all its
    bytes; take() then returns the frame (a bytes copy, one allocation per frame). feed(data)
    takes any number of bytes and returns their frames; the two may be mixed.
    """

    def __init__(self, capacity=MAX_FRAME):
        # `capacity`: the longest frame this link can carry to us (a key's contact hears only
        # a lock's short answers); a frame claiming more is rejected as a bad length.
        self._buf = bytearray(min(capacity, MAX_FRAME))
        self._mv = memoryview(self._buf)
        self._n = 0  # bytes held; when any, _buf[0] is a start byte
        self._need = _HEAD  # bytes to hold before the candidate at _buf[0] can be decided
        self._untaken = None  # frames decided while nobody called take() (a caller's slip)
        self.dropped = 0  # bytes discarded while hunting for a start
        self.rejected = 0  # candidate frames with a bad length or check
        self.feed_byte, self._sync = self._byte_path()

    def _byte_path(self):
        # feed_byte as a closure: MicroPython reads a closure's variables faster than an
        # instance's attributes (a third of the time per byte on the WebAssembly port). Its
        # count of held bytes lives in a cell between decisions; _sync(True) writes it to _n
        # before a method reads the state, _sync(False) reads _n and _need back after.
        buf = self._buf
        n = 0
        last = 0  # with bytes held, those up to this index are stored with nothing to decide
        # At most 5 closed-over variables and arguments: MicroPython calls a closure with
        # more through an argument array it allocates on the heap.

        def feed_byte(c):
            """Take one byte (an int). True when a candidate frame has all its bytes: call
            take() then, before the next byte. Allocates nothing, whatever the byte."""
            nonlocal n, last
            if n < last:  # inside a candidate, short of its last byte: the common case
                buf[n] = c
                n += 1
                return False
            if n == 0 and c != _START_BYTE:  # noise (last is 0 while hunting)
                self.dropped += 1
                return False
            self._n = n
            done = self._decide_byte(c)
            n = self._n
            last = self._need - 1 if n else 0
            return done

        def sync(to_self):
            nonlocal n, last
            if to_self:
                self._n = n
            else:
                n = self._n
                last = self._need - 1 if n else 0

        return feed_byte, sync

    def _decide_byte(self, c):
        # feed_byte's rare cases, on _n and _need: a start byte, the header's last byte, a
        # candidate's last byte, a byte after a True that take() did not follow.
        n = self._n
        buf = self._buf
        if n and n == self._need:  # the caller missed take(): decide now, keep the frames
            self._untaken = self._settle(False)
            n = self._n
            if n == 0 and c != _START_BYTE:
                self.dropped += 1
                return False
        buf[n] = c
        n += 1
        self._n = n
        if n < _HEAD:
            return False
        if n > _HEAD:
            return n == self._need
        length = buf[1] | buf[2] << 8
        if _MIN_LENGTH <= length <= len(buf) - _FRAMING:
            self._need = _HEAD + length + _CRC_LEN
            return False
        # An impossible length: resume after the start byte, within the three bytes held.
        self.rejected += 1
        if buf[1] == _START_BYTE:
            buf[0] = buf[1]
            buf[1] = buf[2]
            self._n = 2
            self.dropped += 1
        elif buf[2] == _START_BYTE:
            self._n = 1
            self.dropped += 2
        else:
            self._n = 0
            self.dropped += 3
        return False

    def take(self):
        """The frames complete after feed_byte() returned True (a list, usually of one;
        empty when the candidate's check failed). Allocates, once per candidate."""
        return self._settled(False)

    def feed(self, data):
        """Take any number of bytes; a list of the frames they complete."""
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)  # find() below: memoryviews have none on MicroPython
        src = memoryview(data)  # its slices copy nothing
        end = len(data)
        i = 0
        frames = []
        self._sync(True)
        while i < end:
            n = self._n
            if n == 0:  # hunting: count the noise before the next start byte, store none of it
                j = data.find(_START, i)
                if j < 0:
                    self.dropped += end - i
                    break
                self.dropped += j - i
                i = j
            k = self._need - n  # copy only up to the next decision point
            if k > end - i:
                k = end - i
            self._mv[n : n + k] = src[i : i + k]
            i += k
            self._n = n + k
            if self._n == self._need:
                frames += self._settle(False)
        self._sync(False)
        return frames

    def idle(self):
        """The line went quiet: a pending partial frame will never complete; resync past it."""
        return self._settled(True)

    def _settled(self, final):
        self._sync(True)
        frames = self._settle(final)
        self._sync(False)
        return frames

    def _settle(self, final):
        # Decide every candidate whose deciding bytes are held; `final`: no more will come.
        frames = self._untaken
        if frames is None:
            frames = []
        else:
            self._untaken = None
        buf = self._buf
        while self._n:
            n = self._n
            need = self._need
            if n < need:
                if not final:
                    break
                if need == _HEAD:  # not even a header: noise
                    self.dropped += n
                    self._n = 0
                    break
                self.rejected += 1  # it claimed more than the line carried
            elif need == _HEAD:
                length = buf[1] | buf[2] << 8
                if _MIN_LENGTH <= length <= len(buf) - _FRAMING:
                    self._need = _HEAD + length + _CRC_LEN
                    continue
                self.rejected += 1
            elif crc32(self._mv[1 : need - _CRC_LEN]) == unpack_from("<L", buf, need - _CRC_LEN)[0]:
                frames.append(bytes(self._mv[:need]))
                self._drop(need, 0)
                continue
            else:
                self.rejected += 1
            self._drop(1, 1)
        return frames

    def _drop(self, k, counted):
        # Forget the first k held bytes (`counted` of them as dropped) and the noise after
        # them up to the next start byte; the rest moves to the front as the next candidate.
        n = self._n
        j = self._buf.find(_START, k, n)
        if j < 0:
            j = n
        self.dropped += counted + j - k
        if j < n:
            self._mv[: n - j] = self._mv[j:n]
        self._n = n - j
        self._need = _HEAD
