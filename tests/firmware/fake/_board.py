# The state of a fake board, shared by the fake machine, rp2 and esp32 modules: the process's
# working folder is the board (its filesystem, its flash partitions, its RTC's backup
# domain), configured by fake_board.json there and written as CPython tests expect:
#
#   fake_board.json   {"uart": "/dev/pts/N", "adc_uv": {"29": 1000000, "4": 706000}}
#   events.log        one line per output change: "pin 4 1", "pwm 6 32768", "sleep 250"
#   pin<N>            an input pin's level ("0" or "1") as the test sets it; absent: its pull
#   rtc               the RTC's offset from the host's clock in seconds (a backup domain
#                     that survives the process, as a key's coin cell keeps its RTC)
#
# Plain MicroPython (the unix port): no f-strings beyond what it has, no CPython modules.
import json

_config = None


def config():
    global _config
    if _config is None:
        try:
            with open("fake_board.json") as f:
                _config = json.load(f)
        except OSError:
            _config = {}
    return _config


def event(*parts):
    with open("events.log", "a") as f:
        f.write(" ".join(str(p) for p in parts) + "\n")


def read_text(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


_ERASED = b"\xff" * 256


class BlockFile:
    """A raw flash partition in a file, in MicroPython's extended block protocol: a write
    with an offset programs as NOR flash does (clears bits only, never erases), a write
    without one erases the blocks first; ioctl 6 erases a block to 0xFF."""

    def __init__(self, path, size, block_size=4096, base=0):
        self.block_size = block_size
        self.blocks = size // block_size
        self.base = base  # where this device starts in the file (a range of a larger flash)
        size += base
        try:
            self._f = open(path, "r+b")
        except OSError:
            self._f = open(path, "w+b")
        f = self._f
        end = f.seek(0, 2)
        blank = b"\xff" * block_size
        while end < size:
            f.write(blank[: min(block_size, size - end)])
            end = f.seek(0, 2)
        f.flush()

    def _check(self, addr, n):
        if addr < 0 or addr + n > self.blocks * self.block_size:
            raise OSError(22)  # EINVAL, as a port does for an access past the partition
        return self.base + addr

    def readblocks(self, block, buf, offset=0):
        self._f.seek(self._check(block * self.block_size + offset, len(buf)))
        self._f.readinto(buf)
        return True

    def writeblocks(self, block, buf, offset=None):
        f = self._f
        if offset is None:
            for i in range(len(buf) // self.block_size):
                self.ioctl(6, block + i)
            offset = 0
        n = len(buf)
        addr = self._check(block * self.block_size + offset, n)
        f.seek(addr)
        old = f.read(n)
        new = bytearray(n)
        for i in range(n):
            new[i] = old[i] & buf[i]
        f.seek(addr)
        f.write(new)
        f.flush()

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:
            # A page of 0xFF at a time: a real chip erases in place, so the fake must not take
            # a sector-sized buffer from the board's heap either.
            self._f.seek(self._check(arg * self.block_size, self.block_size))
            left = self.block_size
            while left:
                n = min(left, len(_ERASED))
                self._f.write(_ERASED if n == len(_ERASED) else _ERASED[:n])
                left -= n
            self._f.flush()
            return 0
        return 0
