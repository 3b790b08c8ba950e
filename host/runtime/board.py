"""An emulated MicroPython board on a pseudo-terminal, for tools written for real boards.

    with EmulatedBoard() as board:
        subprocess.run(["mpremote", "connect", board.port, "fs", "ls"])   # board.port: /dev/pts/N

The board is host/mp_board.mjs: the pinned MicroPython WebAssembly port under Node.js with
its REPL (friendly, raw, raw-paste, soft and hard reset) on the master side of a pty; the
slave's path is the board's serial port. Its filesystem lives as long as the board does.
"""

import os
import subprocess
import tempfile
import termios
import tty
from pathlib import Path

from .micropython import _node, node_modules

HERE = Path(__file__).resolve().parent
BOARD = HERE / "mp_board.mjs"


class EmulatedBoard:
    """The board process and its pty. `port` is the device path to open; stop() ends both."""

    def __init__(self, heap_bytes: int = 8 * 1024 * 1024):
        command = [_node(), str(BOARD), "--heap", str(heap_bytes)]
        env = dict(os.environ, KEYLOCK_NODE_MODULES=str(node_modules()))
        master, slave = os.openpty()
        # Raw on the slave before anything flows: with the default echo the pty would send
        # the board's own output back to it as input.
        tty.setraw(slave, termios.TCSANOW)
        self.port = os.ttyname(slave)
        self._slave = slave  # held open so the line stays up between clients (mpremote, pyserial)
        # Non-blocking on the board's side: it polls the line (select.poll() in a program),
        # and waits by sleeping in short steps (host/mp_board.mjs).
        os.set_blocking(master, False)
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=master,
                stdout=master,
                stderr=self._log,
                env=env,
                start_new_session=True,  # the pty must not become the board's controlling tty
            )
        except BaseException:
            os.close(slave)
            self._log.close()
            raise
        finally:
            os.close(master)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def diagnostics(self) -> str:
        """What the board process said on stderr (empty when all went well)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout_s: float = 5) -> None:
        """Hang up the line (the board sees the end of its input and exits); kill if it must."""
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1
        if self._proc.poll() is None:
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def close(self) -> None:
        self.stop()
        self._log.close()

    def __enter__(self) -> "EmulatedBoard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
