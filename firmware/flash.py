# The flash HAL: NOR semantics, which storage.py is written against.
#   read(addr, n) -> bytes; readinto(addr, buf)
#   program(addr, data): can only clear bits (new = old AND data), like a NOR page program
#   erase(sector): every byte of the sector back to 0xFF
# A board port wraps its flash partition in the same four methods. FileFlash keeps a device's
# flash in a file (the emulator, tests, the WebAssembly port); FaultyFlash cuts the power at
# the N-th program or erase, the way a brown-out does, tearing that operation by one of the
# models in TEARS, for tests and fault injection.
from ._const import const

_SECTOR_SIZE = const(4096)


_ERASED = b"\xff" * 256  # one page of erased flash, written over a sector to erase it


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
        # What this chip has been made to do since it was opened: the emulator's physics
        # charges each program and erase its time and current.
        self.programmed_bytes = 0
        self.erased_sectors = 0
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
        self.programmed_bytes += n
        f = self._f
        old = self.read(addr, n)
        f.seek(addr)
        f.write(_and(old, data))
        f.flush()

    def erase(self, sector):
        if not 0 <= sector < self.sectors:
            raise ValueError("no such sector")
        self.erased_sectors += 1
        f = self._f
        f.seek(sector * self.sector_size)
        left = self.sector_size
        while left:  # a page at a time: no sector-sized buffer on a small heap
            n = min(left, len(_ERASED))
            f.write(_ERASED if n == len(_ERASED) else _ERASED[:n])
            left -= n
        f.flush()

    def close(self):
        self._f.close()


# What reaches the flash in the operation the power cut interrupts (FaultyFlash's `tear`):
#   clean   nothing: the cut came before the operation began
#   half    the first half of a program's bytes, or of the sector for an erase
#   prefix  a pseudo-random-length prefix (0 to all of it: the operation may even complete
#           and still never return)
#   bits    a program clears a pseudo-random subset of the bits it would clear (a NOR cell
#           array mid-program); an erase sets a pseudo-random subset of the bits to 1
TEARS = ("clean", "half", "prefix", "bits")


class XorShift32:
    """A tiny seeded PRNG (xorshift32), so a tear is the same on every runtime and every run:
    never `random`, which MicroPython lacks or seeds differently."""

    def __init__(self, seed):
        s = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF
        self.state = s or 0x6D2B79F5  # xorshift's one fixed point is 0

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        """0 <= value < n."""
        return self.next() % n

    def fill(self, n):
        """n pseudo-random bytes."""
        out = bytearray(n)
        x = 0
        for i in range(n):
            if i & 3 == 0:
                x = self.next()
            out[i] = x & 0xFF
            x >>= 8
        return bytes(out)


class FaultyFlash:
    """Passes operations to `flash` and counts program and erase calls in `ops`. The
    `cut_at`-th one (1-based; 0 only counts) fails: what `tear` says (TEARS) reaches the
    flash, then it and every later write raise PowerCut. `seed` makes the pseudo-random
    tears reproducible. `failed` describes the cut operation once it happened:
    ("program", addr, length) or ("erase", sector, sector_size). `torn` is the older
    interface: True is "half", False is "clean"."""

    def __init__(self, flash, cut_at=0, tear="half", seed=0, torn=None):
        if torn is not None:
            tear = "half" if torn else "clean"
        if tear not in TEARS:
            raise ValueError("tear is one of clean, half, prefix, bits")
        self.flash = flash
        self.sectors = flash.sectors
        self.sector_size = flash.sector_size
        self.cut_at = cut_at
        self.tear = tear
        self.seed = seed
        self.ops = 0
        self.cut = False
        self.failed = None

    @property
    def torn(self):
        return self.tear != "clean"

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
            self.failed = ("program", addr, len(data))
            self._tear_program(addr, data)
            raise PowerCut()
        self.flash.program(addr, data)

    def erase(self, sector):
        if self._fails():
            self.failed = ("erase", sector, self.sector_size)
            self._tear_erase(sector)
            raise PowerCut()
        self.flash.erase(sector)

    def _tear_program(self, addr, data):
        n = len(data)
        tear = self.tear
        if tear == "half":
            self.flash.program(addr, data[: n // 2])
        elif tear == "prefix":
            self.flash.program(addr, data[: XorShift32(self.seed).below(n + 1)])
        elif tear == "bits":
            # Programming (data | ~r) clears a bit only where the data has it clear and r
            # picked it: a subset of the program's cleared bits, never a bit it would keep.
            mask = (1 << (8 * n)) - 1
            r = int.from_bytes(XorShift32(self.seed).fill(n), "big")
            self.flash.program(addr, (int.from_bytes(data, "big") | (r ^ mask)).to_bytes(n, "big"))

    def _tear_erase(self, sector):
        if self.tear == "clean":
            return
        size = self.sector_size
        base = sector * size
        old = self.flash.read(base, size)
        if self.tear == "bits":
            r = XorShift32(self.seed).fill(size)
            new = (int.from_bytes(old, "big") | int.from_bytes(r, "big")).to_bytes(size, "big")
        else:
            n = size // 2 if self.tear == "half" else XorShift32(self.seed).below(size + 1)
            new = b"\xff" * n + old[n:]
        # Through the HAL's own operations, so any flash can be torn: an erase, then the
        # bytes the interrupted erase left programmed back.
        self.flash.erase(sector)
        self.flash.program(base, new)
