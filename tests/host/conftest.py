"""The host tools' world, shared by the CLI, link and plugin tests:

- one emulated site served on real endpoints for the session, with an opening already done
  (so locks and keys have audit events) and one unprovisioned key per endpoint kind (for
  `provision`);
- an emulated MicroPython board on a pty (flashing), and a small host side that asks a
  board's host link for a message over its serial port with plain pyserial."""

import time

import pytest
import serial

from keylock.firmware import frame as fw_frame
from keylock.host.emulator.site import KeyState
from keylock.host.runtime.board import EmulatedBoard
from keylock.host.testing.site import ENDPOINT_KINDS, Site
from keylock.hw_models import battery_by_name
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import decode_frame, encode_frame

VIAS = [pytest.param(kind, id=kind) for kind in ("pty", "socket", "url")]
assert {v.values[0] for v in VIAS} == set(ENDPOINT_KINDS)


def blank_key(name):
    return f"new-{name}"


def build(site):
    site.open("K1", "L1")  # K1 opens L1: L1 records it, K1 carries it
    for kind in ENDPOINT_KINDS:  # known to the server, never provisioned
        site.server.add_key(blank_key(kind), "Holder 1")
        site.devices.add(blank_key(kind), "key")
        site.keys[blank_key(kind)] = KeyState(blank_key(kind), battery_by_name("CR2032"), 1.0, 20.0)


@pytest.fixture(scope="session")
def served():
    site = Site.emulate(keys=2, locks=1, build=build)
    yield site
    site.close()


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


class _NoReconnectPause:
    @staticmethod
    def sleep(_seconds):
        pass


@pytest.fixture(autouse=True)
def _quick_socket_close(monkeypatch):
    # pyserial's socket:// (and so keylock://) sleeps 0.3 s after every close "in case of quick
    # reconnects"; the emulated endpoints need no such pause, and these tests close hundreds.
    from serial.urlhandler import protocol_socket

    monkeypatch.setattr(protocol_socket, "time", _NoReconnectPause)


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
