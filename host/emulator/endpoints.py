"""Serve an emulated site's devices on real serial endpoints.

Each device's host port (the USB serial of a board) is served three ways at once:
- a pseudo-terminal (/dev/pts/N): what a tool opening a board's tty sees;
- TCP, as pyserial's socket://127.0.0.1:PORT;
- keylock://127.0.0.1:HUB/DEVICE, through one hub port (host/link/urlhandler/protocol_keylock.py).

The hub port also takes control connections (`CONTROL`, then JSON lines: control.py), through
which `keylock site ...` acts on the emulated world: insert a key, advance time, block a key.

Bytes from any endpoint go through a Receiver of their own (as on a board's UART), and each
complete frame is handled by the device's firmware (on_host_frame); its answer goes back to
the same endpoint. Everything runs in one thread (the site's SQLite connection is single-
threaded): a selector loop that also moves virtual time along with wall time times `speed`,
or (clock "manual") leaves it alone: then time moves only by control requests (`advance`, an
opening's wire time), so a scenario driven from the command line meets its boundaries exactly.
"""

import errno
import json
import os
import selectors
import socket
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

from ...firmware.frame import Receiver
from ..errors import KeylockError, UsageError
from .control import SiteControl
from .engine import SiteEngine
from .site import EmulatedSite

IDLE_GAP_S = 0.02
CLOCK_TOLERANCE_S = 1.0  # how far virtual time may stray from the recorded clock before it is recorded again
TICK_S = 0.05
CLOCKS = ("wall", "manual")  # virtual time follows the wall clock (times speed), or moves only when told
MAX_CONTROL_LINE = 1 << 20


@dataclass
class Link:
    """One open endpoint of one device."""

    device: str | None  # None: a hub connection not yet attached
    kind: str
    write: Callable[[bytes], object]  # sends bytes back to this endpoint
    receiver: Receiver = field(default_factory=Receiver)
    last_byte_s: float = 0.0
    pending: bool = False
    attach_line: bytes = b""
    control: bool = False  # a hub connection that sent CONTROL: JSON requests, not frames


class Endpoints:
    def __init__(
        self, site: EmulatedSite, host: str = "127.0.0.1", speed: float = 1.0, clock: str = "wall", engine: SiteEngine | None = None
    ):
        if clock not in CLOCKS:
            raise ValueError(f"clock is one of {', '.join(CLOCKS)}, not {clock!r}")
        self.site = site
        self.host = host
        self.clock = clock
        self.speed = speed if clock == "wall" else 0.0
        self.selector = selectors.DefaultSelector()
        self.devices: dict[str, dict] = {}
        self._keep_open: list = []
        if engine is None:
            engine = SiteEngine(site.devices.runtime)
            engine.site = site
        self.control = SiteControl(engine, self.serve, self.clock_state)
        try:
            self.hub = self._listen(None)
            for name in [*site.keys, *site.locks]:
                self.serve(name)
        except OSError as exc:
            self.close()
            # An address that is not this machine's (or no address at all) is bad input;
            # anything else (no free port, not permitted) is the machine's.
            bad_input = isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL
            error = UsageError if bad_input else KeylockError
            raise error(f"cannot serve on {host}: {exc.strerror or exc} (give an address of this machine, e.g. 127.0.0.1)") from None
        self._wall_s = time.monotonic()
        self._anchor: tuple[float, float] = (0.0, 0.0)  # (virtual, wall) last recorded in the site's database
        self._record_clock()

    def _record_clock(self) -> None:
        """Tell the site's database where virtual time is, so the CLI and fixtures that open
        it run on the site's clock, not the wall clock (one clock)."""
        self._anchor = (self.site.now_s, time.time())
        self.site.server.record_emulated_clock(*self._anchor, self.speed)

    def sync_clock(self) -> None:
        """Record the clock again if the site's time was moved (a fixture's advance, a
        control request); a manual clock is recorded at every change, to the microsecond."""
        virtual_s, wall_s = self._anchor
        drift_s = abs(virtual_s + (time.time() - wall_s) * self.speed - self.site.now_s)
        if drift_s > (CLOCK_TOLERANCE_S if self.clock == "wall" else 1e-6):
            self._record_clock()

    def clock_state(self) -> dict:
        return {"mode": self.clock, "speed": self.speed, "virtual_time": self.site.now_s}

    # --- setting up ---------------------------------------------------------------------

    def _listen(self, device):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, 0))
        server.listen()
        server.setblocking(False)
        self.selector.register(server, selectors.EVENT_READ, ("listen", device))
        self._keep_open.append(server)
        return server

    def serve(self, name) -> dict:
        """Serve a device of the site (once); its endpoints."""
        if name in self.devices:
            return self.devices[name]
        master, slave = os.openpty()
        tty.setraw(slave)  # bytes pass untouched: no echo, no line discipline
        os.set_blocking(master, False)
        self._keep_open.append(slave)  # a pty whose slave nobody holds reads EIO on the master
        self.selector.register(master, selectors.EVENT_READ, ("link", Link(name, "pty", lambda data, fd=master: os.write(fd, data))))
        tcp = self._listen(name)
        role = "key" if name in self.site.keys else "lock"
        device_id = self.site.server.key_id(name) if role == "key" else self.site.server.lock_id(name)
        self.devices[name] = {
            "role": role,
            "id": device_id,
            "pty": os.ttyname(slave),
            "socket": f"socket://{self.host}:{tcp.getsockname()[1]}",
            "url": f"keylock://{self.host}:{self.hub.getsockname()[1]}/{name}",
        }
        return self.devices[name]

    def announcement(self) -> str:
        return json.dumps(
            {
                "emulate": {
                    "runtime": self.site.devices.runtime,
                    "hub": f"{self.host}:{self.hub.getsockname()[1]}",
                    "server": str(self.site.folder / "site.db"),
                    "speed": self.speed,
                    "clock_mode": self.clock,
                    # the site's virtual clock: virtual_time at wall_time, running at `speed`
                    "clock": {"virtual_time": int(self.site.now_s), "wall_time": round(time.time(), 3)},
                    "devices": self.devices,
                }
            }
        )

    # --- serving ------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> None:
        stop_at = None if duration_s is None else time.monotonic() + duration_s
        while stop_at is None or time.monotonic() < stop_at:
            for key, _mask in self.selector.select(TICK_S):
                kind, what = key.data
                if kind == "listen":
                    self._accept(key.fileobj, what)
                else:
                    self._readable(key.fileobj, what)
            self._idle_links()
            self._follow_wall_clock()

    def _accept(self, server, device):
        conn, _addr = server.accept()
        conn.setblocking(False)
        link = Link(device, "tcp" if device else "hub", conn.sendall)
        self.selector.register(conn, selectors.EVENT_READ, ("link", link))

    def _readable(self, fileobj, link: Link):
        try:
            data = os.read(fileobj, 4096) if isinstance(fileobj, int) else fileobj.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if not isinstance(fileobj, int):  # a TCP client left; a pty stays served
                self.selector.unregister(fileobj)
                fileobj.close()
            return
        if link.control:
            self._control(fileobj, link, data)
            return
        if link.device is None:
            self._attach(fileobj, link, data)
            return
        link.last_byte_s = time.monotonic()
        link.pending = True
        self._handle(link, link.receiver.feed(data))

    def _attach(self, conn, link: Link, data: bytes):
        link.attach_line += data
        if b"\n" not in link.attach_line:
            return
        line, _, rest = link.attach_line.partition(b"\n")
        words = line.decode(errors="replace").split()
        if words == ["CONTROL"]:
            link.control = True
            link.attach_line = b""
            conn.sendall(b"OK\n")
            if rest:
                self._control(conn, link, rest)
        elif len(words) == 2 and words[0] == "ATTACH" and words[1] in self.devices:
            link.device = words[1]
            conn.sendall(b"OK\n")
            if rest:
                self._handle(link, link.receiver.feed(rest))
        else:
            conn.sendall(f"ERR unknown device {words[-1] if words else ''!r}; devices: {', '.join(self.devices)}\n".encode())
            self.selector.unregister(conn)
            conn.close()

    def _control(self, conn, link: Link, data: bytes):
        """Answer each complete JSON line of a control connection (control.py)."""
        link.attach_line += data
        while b"\n" in link.attach_line:
            line, _, link.attach_line = link.attach_line.partition(b"\n")
            try:
                request = json.loads(line)
            except ValueError:
                answer = {"ok": False, "error": "a control request is one JSON object per line", "exit_code": 2}
            else:
                answer = self.control.handle(request)
                self.sync_clock()  # the request may have moved the site's time
            try:
                conn.setblocking(True)  # an answer (a long audit) may exceed the socket's buffer
                conn.sendall((json.dumps(answer) + "\n").encode())
                conn.setblocking(False)
            except OSError:
                return
        if len(link.attach_line) > MAX_CONTROL_LINE:
            link.attach_line = b""  # a client that never ends its line: drop what it sent

    def _handle(self, link: Link, frames):
        for raw in frames:
            reply = self.site.host_frame(link.device, bytes(raw))
            if reply is not None:
                try:
                    link.write(reply)
                except OSError:
                    pass  # the client went away; its next read will tell

    def _idle_links(self):
        now = time.monotonic()
        for key in list(self.selector.get_map().values()):
            kind, link = key.data
            if kind == "link" and link.pending and now - link.last_byte_s >= IDLE_GAP_S:
                link.pending = False
                self._handle(link, link.receiver.idle())

    def _follow_wall_clock(self):
        if self.clock == "manual":
            return
        now = time.monotonic()
        elapsed = now - self._wall_s
        if elapsed >= 1.0:  # drain and heat in steps of a second or more
            self.site.advance(elapsed * self.speed)
            self._wall_s = now
            self.sync_clock()

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            self.selector.unregister(key.fileobj)
            if isinstance(key.fileobj, int):
                os.close(key.fileobj)
            else:
                key.fileobj.close()  # pyright: ignore[reportAttributeAccessIssue]  (our sockets, registered by us)
        for item in self._keep_open:
            if isinstance(item, int):
                try:
                    os.close(item)
                except OSError:
                    pass
        self.selector.close()
