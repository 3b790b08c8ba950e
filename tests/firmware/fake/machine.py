# A fake `machine` for MicroPython's unix port (a `machine.py` on sys.path stands in for the
# built-in one, as micropython-lib's usb-device tests do), so the board ports run unchanged
# off the board: a UART on a pty that hears its own bytes as a one-wire line does, ADCs that
# read what fake_board.json says, pins and PWM that record to events.log, inputs the test
# sets through files, an RTC kept across processes, and sleep that only waits. See _board.py.
import select
import sys
import time

from _board import config, event, read_text


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._value = 0
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.mode == Pin.OUT:
                return self._value
            level = read_text("pin" + str(self.id))
            if level is None:
                return 1 if self.pull == Pin.PULL_UP else 0
            return int(level)
        v = 1 if v else 0
        if v != self._value or self.mode == Pin.OUT:
            event("pin", self.id, v)
        self._value = v
        return None


def _pin_id(p):
    return p.id if isinstance(p, Pin) else p


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0):
        self.id = _pin_id(pin)
        self._freq = freq
        self._duty = duty_u16

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d
        event("pwm", self.id, d)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, source, atten=None):
        self.id = _pin_id(source)

    def read_uv(self):
        return config().get("adc_uv", {}).get(str(self.id), 0)

    def read_u16(self):
        return min(self.read_uv() * 65535 // 3300000, 65535)


class UART:
    """The contact on a pty (fake_board.json's "uart"): what write() sends goes out on the pty
    and comes back to this side's own receive buffer at once, ahead of anything that arrives
    later, as on a one-wire line."""

    def __init__(self, id, baudrate=9600, tx=None, rx=None, rxbuf=256, timeout=0, **kw):
        self.id = id
        self._f = open(config()["uart"], "r+b")
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._rx = bytearray()
        self._fill()
        self._rx = bytearray()  # powered up just now: what the line carried before is not heard

    def _fill(self):
        while self._poll.poll(0):
            b = self._f.read(1)
            if not b:
                break
            self._rx += b

    def any(self):
        self._fill()
        return len(self._rx)

    def read(self, n=None):
        self._fill()
        if not self._rx:
            return None
        n = len(self._rx) if n is None else min(n, len(self._rx))
        out = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return out

    def write(self, buf):
        self._f.write(buf)  # unbuffered; no flush(): the unix port's is fsync, which a tty refuses
        self._rx += buf  # the line's echo
        return len(buf)


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


_POWER_UP_S = 1609459200  # 2021-01-01: where an RP2040's RTC starts when it lost power


class RTC:
    def datetime(self, t=None):
        if t is None:
            now = int(time.time()) + int(read_text("rtc", str(_POWER_UP_S - int(time.time()))))
            g = time.gmtime(now)
            return (g[0], g[1], g[2], g[6], g[3], g[4], g[5], 0)
        y, mo, d, _wd, h, mi, s = t[:7]
        unix_s = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
        with open("rtc", "w") as f:
            f.write(str(unix_s - int(time.time())))
        event("rtc", unix_s)


def lightsleep(ms=0):
    event("sleep", ms)
    time.sleep_ms(ms)


def deepsleep(ms=0):
    event("deepsleep", ms)
    sys.exit(0)


def reset():
    event("reset")
    sys.exit(0)
