# The host link on a board: the main.py that `keylock flash` installs calls run("key") or
# run("lock"), which serves host frames on the board's console (USB serial or UART, the
# same port mpremote uses) until the host takes the REPL back.
#
# Frames arrive on sys.stdin.buffer and replies leave on sys.stdout.buffer (the raw byte
# streams, no newline translation). Binary frames may carry 0x03, so the console's Ctrl-C
# is switched off while serving; instead a 0x03 that arrives between frames (where no frame
# byte can be) ends the service with KeyboardInterrupt, as Ctrl-C ends any program, and the
# board drops to its REPL. That is what mpremote sends first ("\r\x03") when it connects.
# The end of input (CPython, a closed pipe) ends the service quietly. When the line has
# been quiet for IDLE_MS the receiver is told (Receiver.idle()), so a false start in noise
# does not hold back the frame behind it; that needs a console select.poll() can watch,
# which boards (and the emulated board) have; without one the service only blocks on reads.
import sys

from . import codec, device, flash, frame, secure
from ._const import const

IDLE_MS = const(50)
_CTRL_C = const(3)
_START = const(0xA5)
_CRC_LEN = codec.CRC_LEN
_MIN_LENGTH = codec.MIN_LENGTH
_MAX_LENGTH = codec.MAX_LENGTH

ROLES = ("key", "lock")


def flash_path(role):
    # The device's flash: a file on the board's own filesystem (its flash), one per role.
    return "/keylock_%s.flash" % role


def make_app(role, path=None):
    """The firmware app for `role` ("key" or "lock") on a Device whose flash is the file
    `path` (created erased on first boot, kept across resets) and whose secrets are in the
    file `path`.secure (no board port with a secure element exists yet)."""
    if path is None:
        path = flash_path(role)
    if role == "key":
        from . import key_app

        return key_app.KeyApp(device.Device(flash.FileFlash(path, key_app.FLASH_SECTORS), secure.FileSecureStorage(path + ".secure")))
    if role == "lock":
        from . import lock_app

        return lock_app.LockApp(device.Device(flash.FileFlash(path, lock_app.FLASH_SECTORS), secure.FileSecureStorage(path + ".secure")))
    raise ValueError("role must be key or lock")


class Console:
    """Frames in, replies out, on a pair of byte streams."""

    def __init__(self, app, rx, tx, capacity=frame.MAX_FRAME):
        self.app = app
        self.rx = rx
        self.tx = tx
        self.receiver = frame.Receiver(capacity)  # host_capacity(role): what the role's host may send
        self.frames = 0  # frames answered
        # Where the byte stream is in the frame layout, to tell a break from frame data:
        # _head counts the start and length bytes seen, _left the bytes still due after them.
        self._head = 0
        self._low = 0
        self._left = 0

    def _track(self, c):
        # Advance the frame-layout tracker by one byte.
        if self._left:
            self._left -= 1
        elif self._head == 0:
            if c == _START:
                self._head = 1
        elif self._head == 1:
            self._low = c
            self._head = 2
        else:
            self._head = 0
            length = self._low | c << 8
            if _MIN_LENGTH <= length <= _MAX_LENGTH:
                self._left = length + _CRC_LEN

    def feed(self, data):
        """Hand bytes to the receiver and answer every complete frame. Raises
        KeyboardInterrupt at a 0x03 between frames; the rest of `data` is not used then
        (serve() reads one byte at a time, so what follows stays for the REPL). Between
        frames nothing is allocated per byte (tests/firmware/test_receive_heap_lock.py)."""
        receiver = self.receiver
        for i in range(len(data)):
            c = data[i]
            if c == _CTRL_C and self._head == 0 and self._left == 0:
                raise KeyboardInterrupt
            self._track(c)
            if receiver.feed_byte(c):  # allocates nothing until a frame is complete
                for raw in receiver.take():
                    self._answer(raw)

    def _answer(self, raw):
        reply = self.app.on_host_frame(raw)
        if reply:
            self.tx.write(reply)
            flush = getattr(self.tx, "flush", None)
            if flush is not None:
                flush()
        self.frames += 1

    def idle(self):
        """The line went quiet: a partial frame will never complete."""
        self._head = 0
        self._left = 0
        for raw in self.receiver.idle():
            self._answer(raw)

    def serve(self):
        """Read and answer until the end of input (returns) or a break (KeyboardInterrupt)."""
        rx = self.rx
        poller = _poller(rx)
        quiet = True
        byte = bytearray(1)  # read into, not read(1): no new bytes object per byte received
        while True:
            if poller is not None:
                if not poller.poll(-1 if quiet else IDLE_MS):
                    quiet = True
                    self.idle()
                    continue
                quiet = False
            if not rx.readinto(byte):  # blocks until a byte arrives, on a board and on a pty
                self.idle()  # the end of input: nothing pending will ever complete
                return
            self.feed(byte)


def _poller(stream):
    # A poll object watching `stream` for input, or None where it cannot be polled (BytesIO).
    try:
        import select

        poller = select.poll()
        poller.register(stream, select.POLLIN)
        return poller
    except Exception:
        return None


def _kbd_intr(char):
    try:
        import micropython
    except ImportError:  # CPython: no console interrupt character to manage
        return
    micropython.kbd_intr(char)


def host_capacity(role):
    # A key's host sends it up to a 16 KB blocklist; a lock's host only short frames
    # (provisioning, reads), so a lock keeps no 16 KB buffer for its host link.
    return frame.SHORT_FRAME if role == "lock" else frame.MAX_FRAME


def run(role, path=None):
    """Serve the host link of a `role` device on this board's console (main.py calls this)."""
    app = make_app(role, path)
    console = Console(app, sys.stdin.buffer, sys.stdout.buffer, host_capacity(role))
    _kbd_intr(-1)
    try:
        console.serve()
    finally:
        _kbd_intr(_CTRL_C)
