"""pyserial URL handler for keylock's emulated devices.

    keylock://HOST:PORT/DEVICE[?noise=RATE][&seed=N][&timeout=SECONDS]

HOST:PORT is the hub of a running `keylock emulate` (its JSON line gives every device's
URL); DEVICE is a key's or lock's id in that site. The connection is a TCP stream like
socket://, attached to that device's host port.

Options (anything else is refused, with this grammar in the message):
  noise=RATE      fault injection: each byte, sent or received, is dropped or has one bit
                  flipped with this probability (0 <= RATE < 1)
  seed=N          makes the noise reproducible
  timeout=SECONDS how long to wait for the hub to attach the device (default 2)

Register it with `serial.protocol_handler_packages.append("keylock.host.link.urlhandler")`
(keylock's transport does); then `serial.serial_for_url("keylock://127.0.0.1:7000/K1")`.
"""

import random
import select
import time
import urllib.parse

from serial.serialutil import SerialException
from serial.urlhandler import protocol_socket

GRAMMAR = "keylock://HOST:PORT/DEVICE[?noise=RATE][&seed=N][&timeout=SECONDS]"
OPTIONS = ("noise", "seed", "timeout")


def parse_url(url: str) -> tuple[str, int, str, float, int | None, float]:
    """(host, port, device, noise, seed, attach timeout in seconds) of a keylock:// URL; a
    ValueError naming the form for anything else. keylock's transport checks a URL with it
    before opening anything."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "keylock":
        raise ValueError(f"expected a URL of the form {GRAMMAR}, got {url!r}")
    device = parts.path.strip("/")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"the hub's port number must be 1 to 65535: the form is {GRAMMAR}") from None
    if not parts.hostname or port is None or not device or "/" in device:
        raise ValueError(f"expected a URL of the form {GRAMMAR}, got {url!r}")
    if not 1 <= port <= 65535:
        raise ValueError(f"the hub's port number must be 1 to 65535: the form is {GRAMMAR}")
    options = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}: the form is {GRAMMAR}")
    try:
        noise = float(options.get("noise", ["0"])[-1])
        seed_text = options.get("seed", [None])[-1]
        seed = int(seed_text) if seed_text is not None else None
        timeout_s = float(options.get("timeout", ["2"])[-1])
    except ValueError:
        raise ValueError(f"noise and timeout are numbers, seed an integer: the form is {GRAMMAR}") from None
    if not 0 <= noise < 1:
        raise ValueError(f"noise={noise} must be at least 0 and below 1")
    if not 0 < timeout_s < float("inf"):
        raise ValueError(f"timeout={timeout_s:g} must be a number of seconds above 0")
    return parts.hostname, port, device, noise, seed, timeout_s


class Serial(protocol_socket.Serial):
    def from_url(self, url):
        host, port, self._device, self._noise, seed, self._attach_timeout_s = parse_url(url)
        self._rng = random.Random(seed)
        return host, port

    def open(self):
        super().open()
        try:
            self._attach()
        except Exception:
            self.close()
            raise

    def _attach(self):
        assert self._socket is not None, "open() first"
        self._socket.sendall(f"ATTACH {self._device}\n".encode())
        reply = b""
        deadline = time.monotonic() + self._attach_timeout_s
        while not reply.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SerialException(f"{self.portstr}: the hub did not attach {self._device!r} in time")
            ready, _, _ = select.select([self._socket], [], [], left)
            if ready:
                chunk = self._socket.recv(64)
                if not chunk:
                    break
                reply += chunk
        if reply.strip() != b"OK":
            text = reply.decode(errors="replace").strip().removeprefix("ERR ")
            raise SerialException(f"{self.portstr}: the hub says: {text}" if text else f"{self.portstr}: the hub closed the connection")

    def close(self):
        # pyserial's socket handler sleeps 0.3 s here on every close; a hub needs no such wait.
        self.is_open = False
        if self._socket:
            try:
                self._socket.shutdown(2)
                self._socket.close()
            except OSError:
                pass
            self._socket = None

    def _garble(self, data):
        if not self._noise or not data:
            return data
        out = bytearray()
        for byte in data:
            if self._rng.random() < self._noise:
                if self._rng.random() < 0.5:
                    continue  # dropped
                byte ^= 1 << self._rng.randrange(8)  # one bit flipped
            out.append(byte)
        return bytes(out)

    def read(self, size=1):
        return self._garble(super().read(size))

    def write(self, data):
        super().write(self._garble(bytes(data)))
        return len(data)
