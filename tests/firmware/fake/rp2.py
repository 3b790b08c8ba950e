# A fake `rp2` for the unix port: rp2.Flash(start, len) is a raw flash range in the file
# flash.bin of the board's folder (see _board.py).
from _board import BlockFile


class Flash(BlockFile):
    def __init__(self, start=0, len=0x20000):
        super().__init__("flash.bin", len)
