"""Fixtures for the flashing tests: an emulated MicroPython board on a pty, and a small
host side that asks a board's host link for INFO over its serial port."""

import time

import pytest
import serial

from keylock.firmware import frame as fw_frame
from keylock.host.board import EmulatedBoard
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import decode_frame, encode_frame


@pytest.fixture(scope="module")
def board():
    with EmulatedBoard() as b:
        yield b
        assert b.alive(), b.diagnostics()


def request(port: str, msg_type: MsgType, seq: int, wait_s: float = 15.0):
    """One request over the port with pyserial; the decoded answer with the same seq."""
    receiver = fw_frame.Receiver()
    with serial.serial_for_url(port, baudrate=115200, timeout=0.05) as link:
        link.write(encode_frame(msg_type, {}, seq=seq))
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for raw in receiver.feed(link.read(256)):
                answer = decode_frame(raw)
                if answer.seq == seq:
                    return answer
    raise AssertionError(f"no answer to {msg_type.name} within {wait_s} s")


@pytest.fixture
def ask():
    """request(port, msg_type, seq) -> the decoded answer."""
    return request
