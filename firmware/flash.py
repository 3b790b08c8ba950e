# The flash HAL: NOR semantics, which storage.py is written against.
#   read(addr, n) -> bytes; readinto(addr, buf)
#   program(addr, data): can only clear bits (new = old AND data), like a NOR page program
#   erase(sector): every byte of the sector back to 0xFF
# A board port wraps its flash partition in the same four methods. FileFlash keeps a device's
# flash in a file (the emulator, tests, the WebAssembly port); FaultyFlash cuts the power at
# the N-th program or erase, the way a brown-out does, for tests and fault injection.
from ._const import const

_SECTOR_SIZE = const(4096)


class PowerCut(Exception):
    """The supply failed during a flash write; what reached the flash is all that remains."""


def _and(old, data):
    # NOR programming clears bits only: one big-int AND instead of a per-byte loop.
    n = len(data)
    return (int.from_bytes(old, "big") & int.from_bytes(data, "big")).to_bytes(n, "big")


class FileFlash:
    """A device's flash as a file of `sectors * sector_size` bytes, created erased if missing.

    Every write reaches the file before the call returns (no buffering across a power cut)."""

    def __init__(self, path, sectors, sector_size=_SECTOR_SIZE):
        self.sectors = sectors
        self.sector_size = sector_size
        self.size = sectors * sector_size
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        self._f = f
        end = f.seek(0, 2)
        if end < self.size:
            # A new file, or a layout that grew: the new space is erased flash.
            blank = b"\xff" * sector_size
            while end < self.size:
                n = min(sector_size, self.size - end)
                f.write(blank[:n])
                end += n
            f.flush()

    def _check(self, addr, n):
        if addr < 0 or n < 0 or addr + n > self.size:
            raise ValueError("flash access out of range")

    def read(self, addr, n):
        self._check(addr, n)
        self._f.seek(addr)
        return self._f.read(n)

    def readinto(self, addr, buf):
        self._check(addr, len(buf))
        self._f.seek(addr)
        self._f.readinto(buf)

    def program(self, addr, data):
        n = len(data)
        if n == 0:
            return
        f = self._f
        old = self.read(addr, n)
        f.seek(addr)
        f.write(_and(old, data))
        f.flush()

    def erase(self, sector, length=-1):
        # `length` erases only the sector's first bytes: a torn erase, for fault injection.
        if not 0 <= sector < self.sectors:
            raise ValueError("no such sector")
        if length < 0 or length > self.sector_size:
            length = self.sector_size
        self._f.seek(sector * self.sector_size)
        self._f.write(b"\xff" * length)
        self._f.flush()

    def close(self):
        self._f.close()


class FaultyFlash:
    """Passes operations to `flash` and counts program and erase calls. The `cut_at`-th one
    (1-based) fails: with `torn`, a prefix of the program's bytes (or of the sector's erase)
    lands first; then it and every later write raise PowerCut. `ops` counts calls so far."""

    def __init__(self, flash, cut_at=0, torn=True):
        self.flash = flash
        self.sectors = flash.sectors
        self.sector_size = flash.sector_size
        self.cut_at = cut_at
        self.torn = torn
        self.ops = 0
        self.cut = False

    def read(self, addr, n):
        return self.flash.read(addr, n)

    def readinto(self, addr, buf):
        self.flash.readinto(addr, buf)

    def _fails(self):
        if self.cut:
            raise PowerCut()
        self.ops += 1
        if self.ops == self.cut_at:
            self.cut = True
            return True
        return False

    def program(self, addr, data):
        if self._fails():
            if self.torn:
                self.flash.program(addr, data[: len(data) // 2])
            raise PowerCut()
        self.flash.program(addr, data)

    def erase(self, sector):
        if self._fails():
            if self.torn:
                self.flash.erase(sector, self.sector_size // 2)
            raise PowerCut()
        self.flash.erase(sector)
