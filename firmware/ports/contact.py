# The key-lock contact on a board: one data wire carrying a half-duplex UART, the key the
# master. Both sides join their UART's TX (through 1 kOhm) and RX at the wire, so whatever a
# side sends it hears again: send() reads its own bytes back and drops them (echo
# suppression), and a difference there means someone else talked at the same time (a
# collision, or noise), which the frame's CRC then rejects at the far end.
#
# The line is quiet between frames: a sender first waits for IDLE_GAP_MS of silence, and a
# receiver that hears nothing for IDLE_GAP_MS after a partial frame drops it (the Receiver's
# idle()), so a byte lost on the wire costs one frame, not the frames behind it.
#
# The key powers the lock through the contact only while it is in: the lock boots with each
# insertion (lock_app keeps nothing in RAM between keys). A transaction that loses a frame
# (the lock did not answer within REPLY_MS) starts again from HELLO while no decision was
# reached, up to TRIES times; after a decision the key never repeats it (an opening must not
# happen twice because an acknowledgement was lost).
import time

from .. import frame
from .._const import const

IDLE_GAP_MS = const(3)  # ~17 byte times at 57,600 baud
REPLY_MS = const(400)  # the lock's longest answer: an HMAC handshake step or a flash write
ECHO_MS = const(100)  # our own bytes must be back by then (the wire has no delay)
TRIES = const(6)
LOCK_BOOT_MS = const(150)  # from power on to the lock's UART listening
_CHUNK = const(64)


class Contact:
    """Frames over a half-duplex UART (`uart`: write, any, read as machine.UART)."""

    def __init__(self, uart, capacity=frame.MAX_FRAME):
        self.uart = uart
        self.receiver = frame.Receiver(capacity)
        self.collisions = 0  # echoes that came back different
        self.timeouts = 0  # replies that never came
        self._last_rx = time.ticks_ms()

    def _pump(self):
        """Bytes waiting on the UART to the receiver; the complete frames found."""
        uart = self.uart
        n = uart.any()
        if not n:
            return None
        data = uart.read(min(n, _CHUNK))
        if not data:
            return None
        self._last_rx = time.ticks_ms()
        return self.receiver.feed(data)

    def _wait_quiet(self):
        while time.ticks_diff(time.ticks_ms(), self._last_rx) < IDLE_GAP_MS or self.uart.any():
            if self.uart.any():
                self._pump()  # nobody should talk now: what comes is noise for the receiver
            else:
                time.sleep_ms(1)

    def send(self, raw):
        """Send one frame once the line is quiet, and swallow its echo."""
        self._wait_quiet()
        self.receiver.idle()  # whatever was half-heard before is not a frame any more
        uart = self.uart
        uart.write(raw)
        n = len(raw)
        got = 0
        same = True
        start = time.ticks_ms()
        while got < n and time.ticks_diff(time.ticks_ms(), start) < ECHO_MS:
            k = uart.any()
            if not k:
                time.sleep_ms(1)
                continue
            echo = uart.read(min(k, n - got))
            if not echo:
                continue
            if echo != raw[got : got + len(echo)]:
                same = False
            got += len(echo)
        if got < n or not same:
            self.collisions += 1
        self._last_rx = time.ticks_ms()

    def receive(self, timeout_ms):
        """The next frame whose length and CRC hold, or None after `timeout_ms` (None: wait
        for ever) with no frame under way. A partial frame followed by IDLE_GAP_MS of silence
        is dropped."""
        start = time.ticks_ms()
        pending = False
        while True:
            frames = self._pump()
            if frames:
                return frames[0]  # half-duplex: one frame, then the line turns around
            if frames is not None:
                pending = True
                continue
            now = time.ticks_ms()
            if pending and time.ticks_diff(now, self._last_rx) >= IDLE_GAP_MS:
                pending = False
                found = self.receiver.idle()
                if found:
                    return found[0]
            if not pending and timeout_ms is not None and time.ticks_diff(now, start) >= timeout_ms:
                return None  # never in the middle of a frame: a long one takes its time
            time.sleep_ms(1)


def transact(app, contact, tries=TRIES):
    """One key transaction over the contact: begin() and on_lock_frame() until the app says
    it is over. A lost frame before the decision starts it again (up to `tries` times); the
    key's outcome (its app's) is returned, None when the lock never got to decide."""
    for _ in range(tries):
        out = app.begin()
        while out is not None:
            contact.send(out)
            reply = contact.receive(REPLY_MS)
            if reply is None:
                contact.timeouts += 1
                app.link_lost()
                break
            out = app.on_lock_frame(reply)
        if app.outcome is not None:
            return app.outcome
    return None


def serve(app, contact, frames=None):
    """The lock's side: answer every frame from the key (lock_app.on_key_frame) for as long
    as it is powered; `frames` bounds how many (None: for ever)."""
    while frames is None or frames > 0:
        raw = contact.receive(None)
        if raw is None:
            continue
        reply = app.on_key_frame(raw)
        if reply:
            contact.send(reply)
        if frames is not None:
            frames -= 1
