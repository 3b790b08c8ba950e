"""Talking to one device over a serial port: a board's /dev/ttyACM0, socket://, rfc2217://,
loop://, a pty, or keylock:// (an emulated device, see urlhandler/protocol_keylock.py).

    with Transport("socket://127.0.0.1:40001") as t:
        info = t.request(MsgType.INFO_REQUEST, {})          # -> protocol.frame.Decoded

A request is one host frame; the answer is the frame that comes back with the same seq.
Frames are found with the firmware's own Receiver, so noise, truncation and bad checks are
skipped exactly as a device skips them; a quiet line (IDLE_GAP_MS) resolves a false start.
Deadlines are monotonic. A request is sent again when the answer fails its check or does not
come within the timeout, up to `retries` times. Errors are TransportError subclasses with
messages a tester can act on; the CLI prints them as `keylock: ...`.
"""

import errno
import json
import time
from pathlib import Path
from typing import Any

import serial

from ...firmware.frame import Receiver
from ...protocol.codes import ErrorCode, MsgType
from ...protocol.frame import Decoded, FrameError, decode_frame, encode_frame
from ..errors import KeylockError

# Our URL scheme's handler module (keylock.host.link.urlhandler.protocol_keylock).
URL_HANDLERS = __name__.rpartition(".")[0] + ".urlhandler"
if URL_HANDLERS not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(URL_HANDLERS)

IDLE_GAP_MS = 20
READ_POLL_S = 0.005
HEARD_BYTES = 4096  # the last bytes read, kept for messages (what a board printed besides frames)


class TransportError(KeylockError):
    """Something between us and the device went wrong."""


class PortError(TransportError):
    """The port could not be opened: missing, busy, or a URL pyserial does not know."""


class NoAnswer(TransportError):
    """The device did not answer in time, after every retry."""


class DeviceError(TransportError):
    """The device answered, with an error code (RESULT) or with the wrong message."""

    def __init__(self, message: str, code: ErrorCode | None = None):
        super().__init__(message)
        self.code = code


class Recorder:
    """Every frame of a session as JSON lines: {"t": seconds since start, "dir": "tx"|"rx", "hex": ...}."""

    def __init__(self, path: str | Path):
        self._file = open(path, "w")
        self._t0 = time.monotonic()

    def frame(self, direction: str, raw: bytes) -> None:
        line = {"t": round(time.monotonic() - self._t0, 6), "dir": direction, "hex": raw.hex()}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class Transport:
    def __init__(self, url: str, baudrate: int = 115200, timeout_ms: int = 1000, retries: int = 2, record: str | Path | None = None):
        self.url = url
        self.timeout_ms = timeout_ms
        self.retries = retries
        self._port: serial.SerialBase | None = None
        self._baudrate = baudrate
        self._receiver = Receiver()
        self._heard = bytearray()
        self._seq = 0
        self._recorder = Recorder(record) if record else None
        self.exchanged: list[tuple[str, bytes]] = []  # every frame, for failure reports

    # --- the port -------------------------------------------------------------------------

    def open(self) -> "Transport":
        # A device path is opened exclusively, so a second tester gets "busy", not half the bytes.
        extra: dict[str, Any] = {} if "://" in self.url else {"exclusive": True}
        try:
            port = serial.serial_for_url(self.url, do_not_open=True, baudrate=self._baudrate, timeout=READ_POLL_S, **extra)
        except ValueError as exc:  # an unknown scheme or a bad option: pyserial's message is specific
            raise PortError(f"{self.url}: {exc}") from None
        try:
            port.open()
        except (serial.SerialException, OSError) as exc:
            raise PortError(self._open_error(exc)) from None
        self._port = port
        return self

    def _open_error(self, exc: Exception) -> str:
        code = getattr(exc, "errno", None)
        text = str(exc).removeprefix(f"Could not open port {self.url}: ")
        if code == errno.EBUSY or "busy" in text.lower():
            return f"{self.url}: the port is busy (another program has it open)"
        if code == errno.ENOENT or "No such file" in text:
            return f"{self.url}: no such port"
        if code == errno.ECONNREFUSED or "refused" in text.lower():
            return f"{self.url}: nothing is listening there (is `keylock emulate` running?)"
        return f"{self.url}: cannot open the port: {text}"

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def __enter__(self) -> "Transport":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- frames ---------------------------------------------------------------------------

    def _note(self, direction: str, raw: bytes) -> None:
        self.exchanged.append((direction, raw))
        if self._recorder is not None:
            self._recorder.frame(direction, raw)

    def send(self, raw: bytes) -> None:
        assert self._port is not None, "open() first"
        try:
            self._port.write(raw)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.url}: write failed: {exc}") from None
        self._note("tx", raw)

    def receive(self, deadline: float) -> tuple[list[bytes], int]:
        """Frames that arrive before `deadline` (monotonic), stopping at the first batch; and
        how many candidate frames failed their check meanwhile."""
        assert self._port is not None, "open() first"
        rejected_before = self._receiver.rejected
        last_byte = time.monotonic()
        while True:
            try:
                data = self._port.read(max(1, getattr(self._port, "in_waiting", 0)))
            except (serial.SerialException, OSError) as exc:
                raise TransportError(f"{self.url}: read failed: {exc}") from None
            now = time.monotonic()
            if data:
                last_byte = now
                self._heard += data
                del self._heard[:-HEARD_BYTES]
                frames = self._receiver.feed(data)
            elif (now - last_byte) * 1000 >= IDLE_GAP_MS:
                frames = self._receiver.idle()
            else:
                frames = []
            if frames or now >= deadline:
                for raw in frames:
                    self._note("rx", raw)
                return frames, self._receiver.rejected - rejected_before

    def unframed(self) -> bytes:
        """The last bytes read that were not part of a frame received (a traceback, boot text)."""
        heard = bytes(self._heard)
        for direction, raw in self.exchanged:
            if direction == "rx":
                heard = heard.replace(raw, b"")
        return heard

    def exchange(self, raw: bytes, seq: int) -> bytes:
        """Send a frame and return the answer with the same seq: retried on silence or a bad check."""
        attempts = 1 + self.retries
        for _attempt in range(attempts):
            self.send(raw)
            deadline = time.monotonic() + self.timeout_ms / 1000
            while time.monotonic() < deadline:
                frames, rejected = self.receive(deadline)
                for answer in frames:
                    if answer[4] == seq:
                        return answer
                if rejected and not frames:
                    break  # the answer was damaged on the line: ask again now
        raise NoAnswer(f"{self.url}: no answer within {self.timeout_ms} ms ({attempts} attempts)")

    def request(self, msg_type: MsgType, fields: dict[str, Any], expect: MsgType | None = None) -> Decoded:
        """Send a host command and return the device's decoded answer. A RESULT with an error
        code raises DeviceError; so does an answer of another type than `expect`."""
        self._seq = (self._seq + 1) & 0xFF
        raw = self.exchange(encode_frame(msg_type, fields, self._seq), self._seq)
        try:
            answer = decode_frame(raw)
        except FrameError as exc:
            raise DeviceError(f"{self.url}: the answer to {msg_type.name} does not decode ({exc.reason}): {exc}") from None
        if answer.type == MsgType.RESULT and answer.fields["code"] != ErrorCode.OK:
            code = ErrorCode(answer.fields["code"])
            raise DeviceError(f"{self.url}: device answered {msg_type.name} with status {code.name.lower()}", code)
        if expect is not None and answer.type != expect:
            raise DeviceError(f"{self.url}: expected {expect.name} in answer to {msg_type.name}, got {answer.type.name}")
        return answer
