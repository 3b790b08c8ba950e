# A fake `rp2` for the unix port: the flash's storage region (the filesystem's, 1408 KiB as on
# a 2 MiB Pico) is the file flash.bin of the board's folder; rp2.Flash() is all of it and
# rp2.Flash(start=, len=) a range of it, checked as MicroPython 1.23's rp2_flash.c checks them
# (see _board.py).
from _board import BlockFile

STORAGE_BYTES = 0x160000
_BLOCK = 4096


class Flash(BlockFile):
    def __init__(self, start=-1, len=-1):
        if start == -1:
            start = 0
        elif not (0 <= start < STORAGE_BYTES and start % _BLOCK == 0):
            raise ValueError()
        if len == -1:
            len = STORAGE_BYTES - start
        elif not (0 < len and start + len <= STORAGE_BYTES and len % _BLOCK == 0):
            raise ValueError()
        super().__init__("flash.bin", len, _BLOCK, start)
