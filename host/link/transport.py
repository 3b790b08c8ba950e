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

import datetime
import errno
import json
import os
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Any

import serial

from ...firmware.frame import Receiver
from ...protocol.codes import ErrorCode, MsgType
from ...protocol.frame import Decoded, FrameError, decode_frame, encode_frame
from ..errors import KeylockError, UsageError
from .urlhandler import protocol_keylock

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
    """The port could not be opened: missing, busy, nothing listening."""


class BadURL(PortError, UsageError):
    """The port's URL is malformed (bad input: exit 2, nothing was opened); the message names
    the form expected, as pyserial's own handlers do."""


class NoAnswer(TransportError):
    """The device did not answer in time, after every retry."""


class DeviceError(TransportError):
    """The device answered, with an error code (RESULT) or with the wrong message."""

    def __init__(self, message: str, code: ErrorCode | None = None):
        super().__init__(message)
        self.code = code


# --- URLs: checked before anything is opened --------------------------------------------------

LOGGING = "debug|info|warning|error"
# The form of each URL scheme pyserial (and we) know, as their handlers document it.
URL_FORMS = {
    "socket": f"socket://HOST:PORT[?logging={LOGGING}]",
    "rfc2217": f"rfc2217://HOST:PORT[?logging={LOGGING}][&ign_set_control][&poll_modem][&timeout=SECONDS]",
    "loop": f"loop://[?logging={LOGGING}]",
    "hwgrep": "hwgrep://REGEXP[&skip_busy][&n=N]",
    "spy": "spy://PORT[?file=FILE][&color][&raw][&all]",
    "alt": "alt://PORT?class=NAME",
    "cp2110": "cp2110://BUS:DEVICE:INTERFACE",
    "keylock": protocol_keylock.GRAMMAR,
}
# Options of the TCP schemes, and whether each takes a value (checked here: pyserial's own
# messages for them are garbled, its format string has braces in it).
TCP_OPTIONS = {"socket": {"logging": True}, "rfc2217": {"logging": True, "ign_set_control": False, "poll_modem": False, "timeout": True}}
NEEDS_PORT = ("spy", "alt", "hwgrep")  # schemes wrapping another port (or a pattern): empty is malformed


def check_url(url: str) -> None:
    """Refuse a malformed port URL (BadURL, exit 2) before anything is opened. A device path
    (no `://`) is the operating system's to judge when it is opened."""
    if not url:
        raise BadURL("the port is empty: give a device path or a URL, e.g. /dev/ttyACM0 or socket://127.0.0.1:7000")
    if "://" not in url:
        return
    scheme = url.split("://", 1)[0].lower()
    if scheme not in URL_FORMS:
        known = ", ".join(f"{s}://" for s in URL_FORMS)
        raise BadURL(f"{url}: invalid URL, protocol {scheme!r} not known (known: {known}, or a device path such as /dev/ttyACM0)")
    form = URL_FORMS[scheme]
    if scheme in TCP_OPTIONS:
        _check_tcp_url(url, scheme, form)
    elif scheme == "loop":
        for option, values in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True).items():
            if option != "logging" or values[-1] not in LOGGING.split("|"):
                raise BadURL(f"{url}: expected {form}")
    elif scheme in NEEDS_PORT and not url.split("://", 1)[1].split("?", 1)[0]:
        raise BadURL(f"{url}: expected {form}: the port is missing")
    elif scheme == "keylock":
        try:
            protocol_keylock.parse_url(url)
        except ValueError as exc:
            raise BadURL(f"{url}: {exc}") from None


def _check_tcp_url(url: str, scheme: str, form: str) -> None:
    def bad(why: str) -> BadURL:
        return BadURL(f"{url}: expected {form}: {why}")

    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise bad("the port number must be 1 to 65535") from None
    if not parts.hostname:
        raise bad("the host is missing")
    if port is None:
        raise bad("the port number is missing")
    if not 1 <= port <= 65535:
        raise bad("the port number must be 1 to 65535")
    if parts.path not in ("", "/"):
        raise bad(f"nothing may follow the port, got {parts.path!r}")
    allowed = TCP_OPTIONS[scheme]
    for option, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if option not in allowed:
            raise bad(f"unknown option {option!r}")
        value = values[-1]
        if option == "logging" and value not in LOGGING.split("|"):
            raise bad(f"logging={value!r} is not one of {LOGGING}")
        if option == "timeout":
            try:
                seconds = float(value)
            except ValueError:
                raise bad(f"timeout={value!r} is not a number of seconds") from None
            if not seconds > 0:
                raise bad(f"timeout={value} must be above 0")


def check_record(path: str | Path | None) -> None:
    """Refuse a --record file that cannot be written (UsageError) before the port is opened;
    nothing is created here."""
    if path is None:
        return
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"--record {path}: is a folder, not a file")
    if not folder.is_dir():
        raise UsageError(f"--record {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--record {path}: not writable")


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """For a TCP URL (socket://, rfc2217://, keylock://), connect once and close: a refused
    connection is known at once, where a tool that retries opening (mpremote) would wait."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("socket", "rfc2217", "keylock"):
        return
    check_url(url)
    parts = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout_s).close()
    except OSError as exc:
        why = "connection refused (nothing is listening there)" if isinstance(exc, ConnectionRefusedError) else exc.strerror or str(exc)
        raise PortError(f"{url}: cannot connect: {why}") from None


RECORD_MODES = ("append", "overwrite")


class Recorder:
    """Every frame of a session as JSON lines: {"t": seconds since start, "dir": "tx"|"rx", "hex": ...},
    after one {"session": ISO time, "url": ...} line. By default a session is appended to what
    the file holds, so a session over several runs (or a chain of commands) is one file;
    `keylock replay` treats each session line as a new start."""

    def __init__(self, path: str | Path, url: str, mode: str = "append"):
        if mode not in RECORD_MODES:
            raise UsageError(f"--record-mode is {' or '.join(RECORD_MODES)}, not {mode!r}")
        try:
            self._file = open(path, "a" if mode == "append" else "w")
        except OSError as exc:
            raise UsageError(f"--record {path}: {exc.strerror}") from None
        self._t0 = time.monotonic()
        started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._file.write(json.dumps({"session": started, "url": url}) + "\n")
        self._file.flush()

    def frame(self, direction: str, raw: bytes) -> None:
        line = {"t": round(time.monotonic() - self._t0, 6), "dir": direction, "hex": raw.hex()}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class Transport:
    def __init__(
        self,
        url: str,
        baudrate: int = 115200,
        timeout_ms: int = 1000,
        retries: int = 2,
        record: str | Path | None = None,
        record_mode: str = "append",
    ):
        self.url = url
        self.timeout_ms = timeout_ms
        self.retries = retries
        self._port: serial.SerialBase | None = None
        self._baudrate = baudrate
        self._receiver = Receiver()
        self._heard = bytearray()
        self._seq = 0
        self._record = record
        self._record_mode = record_mode
        self._recorder: Recorder | None = None
        self.exchanged: list[tuple[str, bytes]] = []  # every frame, for failure reports

    # --- the port -------------------------------------------------------------------------

    def check(self) -> None:
        """Everything that can be refused before the port is opened (UsageError: nothing changed)."""
        if self.timeout_ms <= 0 or self.retries < 0:
            raise UsageError(f"--timeout-ms must be above 0 (got {self.timeout_ms}) and --retries at least 0 (got {self.retries})")
        if self._record_mode not in RECORD_MODES:
            raise UsageError(f"--record-mode is {' or '.join(RECORD_MODES)}, not {self._record_mode!r}")
        check_url(self.url)
        check_record(self._record)

    def open(self) -> "Transport":
        self.check()
        # A device path is opened exclusively, so a second tester gets "busy", not half the bytes.
        extra: dict[str, Any] = {} if "://" in self.url else {"exclusive": True}
        try:
            port = serial.serial_for_url(self.url, do_not_open=True, baudrate=self._baudrate, timeout=READ_POLL_S, **extra)
        except ValueError as exc:  # a bad option of a scheme check_url does not parse: pyserial's message is specific
            raise BadURL(f"{self.url}: {exc}: expected {URL_FORMS.get(self.url.split('://')[0].lower(), 'a device path or URL')}") from None
        except serial.SerialException as exc:  # hwgrep:// resolves its port here
            raise PortError(self._open_error(exc)) from None
        except Exception as exc:  # a handler's own bug on a URL check_url let through (KeyError, TypeError)
            raise BadURL(f"{self.url}: {type(exc).__name__} {exc}: expected {URL_FORMS.get(self.url.split('://')[0].lower())}") from None
        try:
            port.open()
        except (serial.SerialException, OSError) as exc:
            raise PortError(self._open_error(exc)) from None
        self._port = port
        if self._record is not None:
            try:
                self._recorder = Recorder(self._record, self.url, self._record_mode)
            except BaseException:
                self.close()
                raise
        return self

    def _open_error(self, exc: Exception) -> str:
        code = getattr(exc, "errno", None)
        text = str(exc).removeprefix(f"Could not open port {self.url}: ")
        if text.startswith(f"{self.url}: "):  # a handler's own message, already naming the port
            return text
        if code == errno.EBUSY or "busy" in text.lower():
            return f"{self.url}: the port is busy (another program has it open)"
        if code == errno.ENOENT or "No such file" in text:
            return f"{self.url}: no such port"
        if code == errno.ENOTTY or "Inappropriate ioctl" in text:
            return f"{self.url}: not a serial port (a tty such as /dev/ttyACM0, or a URL such as socket://HOST:PORT)"
        if code == errno.ECONNREFUSED or "refused" in text.lower():
            return f"{self.url}: nothing is listening there (is `keylock emulate` running?)"
        if "no ports found matching" in text:
            pattern = self.url.split("://", 1)[1]
            return f"{self.url}: no serial port matches {pattern!r} (`python -m serial.tools.list_ports -v` lists them)"
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
        raise NoAnswer(f"{self.url}: no answer within {self.timeout_ms} ms ({attempts} attempt{'' if attempts == 1 else 's'})")

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
