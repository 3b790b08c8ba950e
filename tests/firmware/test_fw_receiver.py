# The frame receiver on concrete streams (the randomised property test is in tests/protocol).
from fwenv import frame, load

FRAMES = [bytes.fromhex(v["hex"]) for v in load("messages.json", "vectors")]
HELLO, PROOF, RESULT = FRAMES[0], FRAMES[2], FRAMES[-2]


def test_frames_back_to_back_in_one_feed():
    r = frame.Receiver()
    assert r.feed(HELLO + PROOF + RESULT) == [HELLO, PROOF, RESULT]
    assert r.dropped == 0


def test_one_byte_at_a_time():
    r = frame.Receiver()
    got = []
    for b in HELLO + PROOF:
        got += r.feed(bytes([b]))
    assert got == [HELLO, PROOF]


def test_garbage_with_false_starts_before_a_frame():
    garbage = b"\x00\xa5\x01\x00\xa5\x05\x00xyz\x00\xa5\x03\x00"
    r = frame.Receiver()
    assert r.feed(garbage + HELLO) == [HELLO]
    assert r.rejected == 3  # length 1 is impossible; the 5- and 3-byte candidates fail their CRC


def test_damaged_frame_is_skipped_and_the_next_one_found():
    damaged = bytearray(HELLO)
    damaged[8] ^= 0xFF
    r = frame.Receiver()
    assert r.feed(bytes(damaged) + PROOF) == [PROOF]


def test_truncated_frame_followed_by_a_whole_one():
    r = frame.Receiver()
    # the cut-off HELLO still claims 29 bytes, more than have arrived: it holds PROOF until idle
    assert r.feed(HELLO[:10] + PROOF) == []
    assert r.idle() == [PROOF]


def test_truncated_frame_whose_claim_is_covered_by_what_follows():
    r = frame.Receiver()
    assert r.feed(HELLO[:10] + PROOF + RESULT) == [PROOF, RESULT]


def test_false_start_claiming_a_long_length_is_resolved_when_the_line_goes_idle():
    r = frame.Receiver()
    assert r.feed(b"\xa5\xff\x00" + HELLO) == []  # could still be a 255-byte frame
    assert r.idle() == [HELLO]
    assert r.feed(PROOF) == [PROOF]


def test_never_raises_on_odd_input():
    r = frame.Receiver()
    for chunk in (b"", b"\xa5", b"\xa5\xa5\xa5", bytes(range(256)), b"\xa5\x00\x40" + bytes(100)):
        r.feed(chunk)
        r.idle()
    assert r.feed(RESULT) == [RESULT]
