"""The emulated board behaves as mpremote expects a board to: raw REPL with raw-paste,
soft reset that clears RAM and keeps the filesystem, errors with the usual errno numbers."""

import subprocess
import sys

from keylock.host.runtime.board import EmulatedBoard


def mpremote(port, *args):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True, text=True, timeout=60)


def test_soft_reset_keeps_files_and_forgets_ram(tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello board\n")
    with EmulatedBoard() as board:
        proc = mpremote(
            board.port,
            "exec",
            "x = 42",
            "+",
            "fs",
            "cp",
            str(src),
            ":/hello.txt",
            "+",
            "soft-reset",
            "+",
            "exec",
            "print('x' in globals(), open('/hello.txt').read().strip())",
        )
        assert proc.returncode == 0, proc.stderr
        assert "False hello board" in proc.stdout
        missing = mpremote(board.port, "fs", "cat", ":/no-such-file")
        assert missing.returncode == 1
        assert "No such file or directory" in missing.stderr  # OSError ENOENT, as on a board
        assert board.diagnostics() == ""


def test_stop_ends_the_board_process():
    board = EmulatedBoard()
    assert board.alive()
    board.close()
    assert not board.alive()
