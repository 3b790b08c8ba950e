"""The board's host-link service (firmware/board_main.py) on CPython, fed from byte streams."""

import io

import pytest

from keylock.firmware import board_main, codec
from keylock.firmware import frame as fw_frame
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import decode_frame, encode_frame


def console(tmp_path, role, data):
    app = board_main.make_app(role, str(tmp_path / f"{role}.flash"))
    return board_main.Console(app, io.BytesIO(data), io.BytesIO())


def answers(tx):
    return [decode_frame(raw) for raw in fw_frame.Receiver().feed(tx.getvalue())]


def info_request(seq):
    return encode_frame(MsgType.INFO_REQUEST, {}, seq=seq)


@pytest.mark.parametrize("role", ["key", "lock"])
def test_info_through_noise_until_the_end_of_input(tmp_path, role):
    c = console(tmp_path, role, b"\r\nMPY: soft reboot\r\n" + info_request(5) + b"\x00\xa5" + info_request(6))
    c.serve()  # returns at the end of input
    got = answers(c.tx)
    assert [a.type for a in got] == [MsgType.INFO, MsgType.INFO]
    assert [a.seq for a in got] == [5, 6]
    assert got[0].fields["role"].name.lower() == role


def test_ctrl_c_between_frames_ends_the_service_and_leaves_the_rest(tmp_path):
    c = console(tmp_path, "lock", info_request(1) + b"\r\x03\r\x01")
    with pytest.raises(KeyboardInterrupt):
        c.serve()
    assert [a.seq for a in answers(c.tx)] == [1]
    assert c.rx.read() == b"\r\x01"  # for the REPL


def test_0x03_inside_a_frame_is_data(tmp_path):
    frame = info_request(3)
    assert 3 in frame
    c = console(tmp_path, "key", frame + encode_frame(MsgType.STATUS_REQUEST, {}, seq=0x03))
    c.serve()
    assert [a.type for a in answers(c.tx)] == [MsgType.INFO, MsgType.KEY_STATUS]


def test_a_bad_length_does_not_swallow_a_break(tmp_path):
    # A start byte followed by an impossible length is noise: the break after it still counts.
    c = console(tmp_path, "lock", b"\xa5\xff\xff\x03")
    with pytest.raises(KeyboardInterrupt):
        c.serve()


def test_undecodable_request_gets_an_error_result(tmp_path):
    unknown = fw_frame.encode(0x7E, 9, b"")
    c = console(tmp_path, "lock", unknown)
    c.serve()
    (reply,) = answers(c.tx)
    assert reply.type == MsgType.RESULT and reply.seq == 9
    assert int(reply.fields["code"]) == codec.ERR_UNKNOWN_COMMAND


def test_unknown_role(tmp_path):
    with pytest.raises(ValueError):
        board_main.make_app("door", str(tmp_path / "x.flash"))


def test_a_quiet_line_releases_a_frame_held_by_a_false_start(tmp_path):
    # On a real stream (a pipe here, the console on a board) select.poll() sees the line go
    # quiet: the false start is dropped and the frame behind it answered, with no more input.
    import os
    import threading

    r, w = os.pipe()
    tx_r, tx_w = os.pipe()
    app = board_main.make_app("lock", str(tmp_path / "lock.flash"))
    with open(r, "rb", buffering=0) as rx, open(tx_w, "wb", buffering=0) as tx, open(tx_r, "rb", buffering=0) as out:
        c = board_main.Console(app, rx, tx)
        server = threading.Thread(target=c.serve, daemon=True)
        server.start()
        os.write(w, b"\xa5" + info_request(8))  # A5 A5 02 ...: claims a 677-byte frame
        receiver = fw_frame.Receiver()
        got = []
        while not got:
            got = receiver.feed(out.read(64))
        assert decode_frame(got[0]).seq == 8
        os.close(w)  # the end of input ends the service
        server.join(10)
        assert not server.is_alive()
