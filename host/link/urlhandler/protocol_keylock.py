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


class Serial(protocol_socket.Serial):
    def from_url(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "keylock":
            raise ValueError(f"expected a URL of the form {GRAMMAR}, got {url!r}")
        self._device = parts.path.strip("/")
        if not parts.hostname or parts.port is None or not self._device or "/" in self._device:
            raise ValueError(f"expected a URL of the form {GRAMMAR}, got {url!r}")
        options = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}: the form is {GRAMMAR}")
        try:
            self._noise = float(options.get("noise", ["0"])[-1])
            seed = options.get("seed", [None])[-1]
            self._attach_timeout_s = float(options.get("timeout", ["2"])[-1])
        except ValueError:
            raise ValueError(f"noise and timeout are numbers, seed an integer: the form is {GRAMMAR}") from None
        if not 0 <= self._noise < 1:
            raise ValueError(f"noise={self._noise} must be at least 0 and below 1")
        self._rng = random.Random(int(seed) if seed is not None else None)
        return parts.hostname, parts.port

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
            raise SerialException(f"{self.portstr}: {reply.decode(errors='replace').strip() or 'the hub closed the connection'}")

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
