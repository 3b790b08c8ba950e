# The main loop of a key or a lock on a board. The main.py that `keylock flash --board NAME`
# installs calls run(ROLE, NAME): the board's pin map (ports/pins.py) picks its port module.
#
#   key:  while it is out, it serves its host link (phone app, wall programmer) on the console
#         and, after AWAKE_MS without one, sleeps in steps of SLEEP_MS checking its insertion
#         switch (lightsleep, not deepsleep: a deep sleep wakes through a reset, and the key
#         keeps its phone pairing in RAM); inserted, it powers the lock, runs one transaction
#         over the contact (ports/contact.py), switches the lock off and waits to be pulled out.
#   lock: powered by the key, it serves the contact from power-up (and its host link on the
#         console, for provisioning on the bench) until the power goes.
#
# On a board whose sys.platform is not the map's (an emulated board standing in for a Pico,
# `keylock flash --any-platform`), the port cannot start: main.py serves the host link only,
# as board_main.run does, so the board still answers the host.
import sys
import time

from .. import board_main, frame
from .._const import const
from . import contact, pins

AWAKE_MS = const(60000)  # awake after removal or host-link traffic, before the key sleeps
SLEEP_MS = const(250)  # how often a sleeping key looks at its insertion switch
POLL_MS = const(20)  # a lock's wait for the key between looks at its console


def _port(name):
    if name == "rp2":
        from . import rp2

        return rp2
    if name == "esp32":
        from . import esp32

        return esp32
    raise ValueError("no board port " + name)


def make(role, board):
    """(app, device, contact) of `role` on `board` (a ports/pins.py BOARDS name)."""
    board_pins = pins.BOARDS[board]
    port = _port(board_pins["module"])
    if role == "key":
        from .. import key_app

        dev = port.make_device(role, board_pins, key_app.FLASH_SECTORS)
        app = key_app.KeyApp(dev)
    elif role == "lock":
        from .. import lock_app

        dev = port.make_device(role, board_pins, lock_app.FLASH_SECTORS)
        app = lock_app.LockApp(dev)
    else:
        raise ValueError("role must be key or lock")
    # The key hears only a lock's short answers on the contact; the lock hears a key's blocklist.
    capacity = frame.SHORT_FRAME if role == "key" else frame.MAX_FRAME
    return app, dev, contact.Contact(port.contact_uart(board_pins), capacity)


class Host:
    """The host link on the console, looked at without blocking: frames in on stdin, replies
    out on stdout (board_main.Console). Gone for good at the end of input (a closed pipe)."""

    def __init__(self, app, role):
        self.console = board_main.Console(app, sys.stdin.buffer, sys.stdout.buffer, board_main.host_capacity(role))
        self.poller = board_main._poller(sys.stdin.buffer)
        self.quiet = True

    def serve(self, wait_ms):
        """Answer what the console has; True when anything came. Waits up to `wait_ms`."""
        poller = self.poller
        if poller is None:
            if wait_ms:
                time.sleep_ms(wait_ms)
            return False
        heard = False
        while poller.poll(wait_ms if not heard else 0):
            data = sys.stdin.buffer.read(1)
            if not data:
                self.poller = None  # end of input: no host will come
                return heard
            heard = True
            self.quiet = False
            self.console.feed(data)
        if heard:
            return True
        if not self.quiet:
            self.quiet = True
            self.console.idle()
        return False


def key_loop(app, dev, link, host):
    """The key: a transaction per insertion, for ever."""
    awake_from = time.ticks_ms()
    while True:
        if dev.inserted():
            dev.power_lock(True)
            time.sleep_ms(contact.LOCK_BOOT_MS)  # awake: the lock's supply must stay on
            dev.sample()
            contact.transact(app, link)
            dev.power_lock(False)
            while dev.inserted():
                host.serve(POLL_MS)
            dev.leds_off()
            awake_from = time.ticks_ms()
        elif host.serve(POLL_MS):
            awake_from = time.ticks_ms()
        elif time.ticks_diff(time.ticks_ms(), awake_from) > AWAKE_MS:
            dev.sleep_ms(SLEEP_MS)


def lock_loop(app, link, host):
    """The lock: the contact first, the console between frames, until the power goes."""
    while True:
        raw = link.receive(POLL_MS)
        if raw is not None:
            reply = app.on_key_frame(raw)
            if reply:
                link.send(reply)
            continue
        host.serve(0)


def run(role, board):
    """main.py's call: the role's loop on this board, or the host link only on a stand-in."""
    if sys.platform != pins.BOARDS[board]["platform"]:
        board_main.run(role)  # a stand-in board: the host link only (see above)
        return
    serve(role, board)


def serve(role, board):
    """The role's loop with the board's port (the fake-machine tests call it directly: the
    unix port's sys.platform is linux)."""
    app, dev, link = make(role, board)
    host = Host(app, role)
    board_main._kbd_intr(-1)  # frames may carry 0x03; a 0x03 between frames still stops (Console)
    try:
        if role == "key":
            key_loop(app, dev, link, host)
        else:
            lock_loop(app, link, host)
    finally:
        board_main._kbd_intr(3)
