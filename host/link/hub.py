"""A control connection to a running `keylock emulate`'s hub (host/emulator/control.py).

    with HubControl("127.0.0.1:7000") as hub:
        hub.request({"op": "step", "step": "{advance: 61s}"})

One TCP connection, `CONTROL\\n` answered `OK\\n`, then one JSON object per line each way.
An answer with "ok": false raises KeylockError with the hub's message and exit code.
"""

import json
import os
import socket

from ..errors import KeylockError, UsageError

HUB_ENV = "KEYLOCK_HUB"  # where `keylock site` finds the hub when --hub is not given
HUB_FORM = "HOST:PORT (the `hub` of `keylock emulate`'s JSON line)"
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 600.0  # a long MicroPython opening or advance is still an answer


class HubError(KeylockError):
    """The hub refused a request; exit_code is the one it gave (2: bad input, nothing changed)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def parse_hub(text: str | None) -> tuple[str, int]:
    """(host, port) of --hub or $KEYLOCK_HUB."""
    text = text or os.environ.get(HUB_ENV)
    if not text:
        raise UsageError(f"which site? give --hub {HUB_FORM} or set {HUB_ENV}")
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--hub {text!r}: expected {HUB_FORM}, e.g. 127.0.0.1:40123")
    return host.strip("[]"), int(port)


class HubControl:
    def __init__(self, hub: str | None):
        self.address = parse_hub(hub)
        self._sock: socket.socket | None = None
        self._pending = b""

    def open(self) -> "HubControl":
        host, port = self.address
        try:
            self._sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise KeylockError(f"cannot reach the hub at {host}:{port}: {exc.strerror or exc} (is `keylock emulate` running?)") from None
        self._sock.settimeout(ANSWER_TIMEOUT_S)
        self._sock.sendall(b"CONTROL\n")
        if self._line() != b"OK":
            raise KeylockError(f"{host}:{port} is not a keylock hub (it did not accept CONTROL)")
        return self

    def _line(self) -> bytes:
        assert self._sock is not None
        while b"\n" not in self._pending:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise KeylockError(f"the hub stopped answering: {exc.strerror or exc}") from None
            if not chunk:
                raise KeylockError("the hub closed the connection (did `keylock emulate` stop?)")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def request(self, request: dict) -> dict:
        """The hub's answer to one request; raises HubError when it refused."""
        if self._sock is None:
            self.open()
        assert self._sock is not None
        self._sock.sendall((json.dumps(request) + "\n").encode())
        answer = json.loads(self._line())
        if not answer.get("ok"):
            raise HubError(answer.get("error", "refused"), int(answer.get("exit_code", 1)))
        return answer

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "HubControl":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
