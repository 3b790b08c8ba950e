"""The `keylock` command line: this layer parses arguments and prints; the work is done by
the layers below (link, runtime, emulator, scenario, server). `commands.py` is the table."""

from .commands import main

__all__ = ["main"]
