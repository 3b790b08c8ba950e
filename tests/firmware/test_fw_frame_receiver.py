# The receiver's byte path (feed_byte/take) and its preallocated buffer, against the
# receiver as it was before (a bytes buffer rescanned on every feed, kept here as the
# reference): the same frames and the same counts on noisy streams, however they arrive.
# Runtime-neutral: also run inside MicroPython by test_on_micropython.py.
from binascii import crc32
from struct import unpack_from

from fwenv import codec, frame, load

FRAMES = [bytes.fromhex(v["hex"]) for v in load("messages.json", "vectors")]
HELLO, PROOF, RESULT = FRAMES[0], FRAMES[2], FRAMES[-2]


class Reference:
    """The receiver before the preallocated buffer (commit 8fd8b9b), unchanged in meaning."""

    def __init__(self):
        self._buf = b""
        self.dropped = 0
        self.rejected = 0

    def feed(self, data):
        self._buf += bytes(data)
        return self._scan(False)

    def idle(self):
        return self._scan(True)

    def _scan(self, final):
        frames = []
        buf = self._buf
        i = 0
        while True:
            j = buf.find(b"\xa5", i)
            if j < 0:
                self.dropped += len(buf) - i
                buf = b""
                break
            self.dropped += j - i
            if len(buf) - j < 3:
                if final:
                    self.dropped += len(buf) - j
                    buf = b""
                else:
                    buf = buf[j:]
                break
            length = buf[j + 1] | buf[j + 2] << 8
            end = j + 3 + length + 4
            if length < codec.MIN_LENGTH or length > codec.MAX_LENGTH:
                self.rejected += 1
            elif len(buf) < end:
                if not final:
                    buf = buf[j:]
                    break
                self.rejected += 1
            elif crc32(buf[j + 1 : end - 4]) == unpack_from("<L", buf, end - 4)[0]:
                frames.append(buf[j:end])
                i = end
                continue
            else:
                self.rejected += 1
            self.dropped += 1
            i = j + 1
        self._buf = buf
        return frames


class Lcg:
    """A small deterministic generator (the same streams on every runtime)."""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def noisy_stream(rng):
    """Frames, some damaged or cut, among noise rich in start bytes and false lengths."""
    out = bytearray()
    for _ in range(rng.below(8)):
        kind = rng.below(6)
        if kind == 0:  # plain noise
            out += bytes(rng.below(256) for _ in range(rng.below(12)))
        elif kind == 1:  # start bytes and small lengths: false starts of every kind
            out += bytes((0xA5, 0x00, 0xFF, 0x01, 0x40)[rng.below(5)] for _ in range(rng.below(10)))
        else:
            f = bytearray(FRAMES[rng.below(len(FRAMES))])
            if rng.below(4) == 0:
                f[rng.below(len(f))] ^= 1 + rng.below(255)  # damaged
            if rng.below(6) == 0:
                f = f[: rng.below(len(f))]  # cut off
            out += f
    return bytes(out)


def by_bytes(r, data):
    got = []
    for c in data:
        if r.feed_byte(c):
            got += r.take()
    return got


def test_byte_path_and_chunks_agree_with_the_reference_on_noisy_streams():
    rng = Lcg(13)
    for case in range(120):
        stream = noisy_stream(rng)
        ref = Reference()
        want = ref.feed(stream) + ref.idle()
        one = frame.Receiver()
        assert by_bytes(one, stream) + one.idle() == want, case
        chunked = frame.Receiver()
        got, i = [], 0
        while i < len(stream):
            n = 1 + rng.below(40)
            got += chunked.feed(stream[i : i + n])
            i += n
        assert got + chunked.idle() == want, case
        for r in (one, chunked):
            assert (r.dropped, r.rejected) == (ref.dropped, ref.rejected), case


def test_byte_path_chunks_and_idle_mixed_agree_with_the_reference():
    # feed_byte keeps its count apart from the other methods between decisions: any mix of
    # the three, with the line going quiet anywhere, must behave as the reference does.
    rng = Lcg(12)
    for case in range(120):
        stream = noisy_stream(rng) + noisy_stream(rng)
        ref, r = Reference(), frame.Receiver()
        want, got, i = [], [], 0
        while i < len(stream):
            n = 1 + rng.below(30)
            chunk = stream[i : i + n]
            i += n
            want += ref.feed(chunk)
            got += by_bytes(r, chunk) if rng.below(2) else r.feed(chunk)
            if rng.below(5) == 0:
                want += ref.idle()
                got += r.idle()
        assert got == want, case
        assert (r.dropped, r.rejected) == (ref.dropped, ref.rejected), case


def test_the_byte_path_returns_each_frame_once_at_its_last_byte():
    r = frame.Receiver()
    signals = [r.feed_byte(c) for c in HELLO]
    assert signals == [False] * (len(HELLO) - 1) + [True]
    assert r.take() == [HELLO]
    assert r.take() == []  # taken once
    assert type(by_bytes(r, PROOF)[0]) is bytes  # a copy: the buffer is reused for the next frame


def test_impossible_lengths_resync_within_the_header():
    # feed_byte decides a bad header within its three bytes, keeping a start byte among them.
    r = frame.Receiver()
    assert by_bytes(r, b"\xa5\xff" + HELLO) == [HELLO]  # A5 FF A5: length 0xA5FF; HELLO's A5 kept
    assert (r.dropped, r.rejected) == (2, 1)
    r = frame.Receiver()
    assert by_bytes(r, b"\xa5\xa5\xff\xff" + HELLO) == [HELLO]  # A5 A5 FF, then A5 FF FF: both impossible
    assert (r.dropped, r.rejected) == (4, 2)


def test_a_true_without_take_loses_nothing():
    # A caller that misses one take() gets that frame from the next take() (or feed/idle).
    r = frame.Receiver()
    for c in HELLO:
        r.feed_byte(c)
    assert by_bytes(r, PROOF) == [HELLO, PROOF]


def test_the_longest_frame_byte_by_byte():
    longest = frame.encode(codec.T_RESULT, 1, bytes(codec.MAX_LENGTH - 2))
    r = frame.Receiver()
    assert by_bytes(r, b"\x00" + longest + longest) == [longest, longest]
    assert (r.dropped, r.rejected) == (1, 0)


def test_check_value_is_the_crc32_of_every_valid_frame_of_a_length():
    # What the handshake checks its fixed-length frames against: one constant per length.
    by_length = {}
    for f in FRAMES:
        by_length.setdefault(len(f), []).append(f)
    shared = [fs for fs in by_length.values() if len(fs) > 1]
    assert shared  # lengths shared by different frames: the constant does not depend on contents
    for n, fs in by_length.items():
        assert [crc32(f) for f in fs] == [frame.check_value(n)] * len(fs), n
    damaged = bytearray(HELLO)
    damaged[-1] ^= 1  # its CRC
    assert crc32(damaged) != frame.check_value(len(HELLO))
    assert frame.check_value(len(HELLO)) != frame.check_value(len(HELLO) + 1)
