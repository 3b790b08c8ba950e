"""`keylock flash --board pico|esp32`: the board's port from the manifest, compiled for the
board's CPU. On the emulated board (MicroPython's WebAssembly port on a pty) with the real
mpy-cross and mpremote: exactly the manifest's files for a Pico arrive, their .mpy headers
say armv6m where there is native code, and the board (a stand-in: its sys.platform is
webassembly) still answers INFO through the main.py installed for the Pico."""

import json
import subprocess
import sys

import pytest

from keylock.firmware.ports import pins
from keylock.host import cli
from keylock.host.errors import KeylockError
from keylock.host.runtime import deploy
from keylock.host.runtime.board import EmulatedBoard

# mpy-cross's architecture numbers (MicroPython's MP_NATIVE_ARCH_*): the header's byte 2 >> 2.
ARMV6M, XTENSAWIN = 4, 10


def on_board(board: str) -> set[str]:
    return {"/lib/" + e.target.removesuffix(".py") + ".mpy" for e in deploy.firmware_manifest(board).files}


# --- the manifest and the compiler, per board ---------------------------------------------------


def test_each_board_gets_the_common_firmware_and_its_own_port_only():
    plain = on_board(None)
    for board, pin_map in pins.BOARDS.items():
        files = on_board(board)
        port = f"/lib/keylock_fw/ports/{pin_map['module']}.mpy"
        assert plain < files and port in files
        assert files - plain == {
            f"/lib/keylock_fw/ports/{m}.mpy" for m in ("__init__", "board", "contact", "main", "pins", pin_map["module"])
        }
        others = {f"/lib/keylock_fw/ports/{m['module']}.mpy" for b, m in pins.BOARDS.items() if b != board}
        assert not files & others
        assert "/lib/keylock_fw/ports/emulator.mpy" not in files
    assert not [f for f in plain if "/ports/" in f]  # no board: no port (the emulated board)


def test_a_board_without_a_pin_map_is_refused_by_the_manifest():
    from keylock.host.runtime import manifest

    with pytest.raises(KeylockError, match="no pin map for the board 'pico3'"):
        manifest.read(deploy.MANIFEST, package_dirs={deploy.PACKAGE: deploy.FIRMWARE_DIR}, options={"board": "pico3"})


@pytest.mark.parametrize(("board", "arch"), [("pico", ARMV6M), ("esp32", XTENSAWIN)])
def test_compiled_for_the_boards_cpu(tmp_path, board, arch):
    compiled = deploy.compile_firmware(tmp_path, board)
    assert {c.remote for c in compiled} == on_board(board)
    arches = {c.module: c.path.read_bytes()[2] >> 2 for c in compiled}
    assert arches["ports.board"] == arch  # native code: for this CPU only
    assert deploy.mpy_arch_of(next(c.path for c in compiled if c.module == "ports.board")) == pins.BOARDS[board]["mpy_arch"]
    assert set(arches.values()) == {0, arch}  # bytecode-only files carry no CPU
    # Without a board nothing has native code: it runs on any port.
    assert {c.path.read_bytes()[2] >> 2 for c in deploy.compile_firmware(tmp_path / "plain")} == {0}


def test_main_py_starts_the_boards_port():
    text = deploy.main_py("key", "esp32")
    assert "from keylock_fw.ports import main" in text and "main.run('key', 'esp32')" in text
    assert "board_main.run('lock')" in deploy.main_py("lock", None)
    assert "board_main" in deploy.main_py("lock", "webassembly")  # a platform, not a board


# --- on the emulated board ------------------------------------------------------------------------

HEADERS = (
    "import os\n"
    "def walk(p):\n"
    " for n in os.listdir(p):\n"
    "  q = p + '/' + n\n"
    "  if os.stat(q)[0] & 0x4000:\n   walk(q)\n"
    "  else:\n"
    "   with open(q, 'rb') as f:\n    print('FILE', q, f.read(4)[2] >> 2)\n"
    "walk('/lib/keylock_fw')\n"
    "print('MAIN', repr(open('/main.py').read()))\n"
)


@pytest.mark.slow
@pytest.mark.end_to_end
@pytest.mark.micropython
def test_flash_board_pico_sends_the_manifest_compiled_for_armv6m(capsys):
    with EmulatedBoard() as board:
        # A Pico's firmware to a board that is not a Pico: refused, nothing copied.
        assert cli.main(["flash", "--port", board.port, "--role", "lock", "--board", "pico"]) == 1
        err = capsys.readouterr().err
        assert "is a webassembly board (sys.platform), not rp2 (a pico)" in err and "nothing was copied" in err

        # --any-platform: the emulated board stands in for a Pico.
        assert cli.main(["flash", "--port", board.port, "--role", "lock", "--board", "pico", "--any-platform", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["pin_map"] == "pico" and report["mpy_arch"] == "armv6m"
        assert {c["path"] for c in report["copied"]} == on_board("pico") | {"/main.py"}
        assert report["info"]["role"] == "lock"  # main.py for the Pico, serving the host link on a stand-in

        proc = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", board.port, "exec", HEADERS, "+", "reset"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        files = {}
        main = None
        for line in proc.stdout.splitlines():
            if line.startswith("FILE "):
                _, path, arch = line.split()
                files[path] = int(arch)
            elif line.startswith("MAIN "):
                main = line
        assert set(files) == on_board("pico")  # exactly the manifest's, read off the board
        assert files["/lib/keylock_fw/ports/board.mpy"] == ARMV6M
        assert set(files.values()) == {0, ARMV6M}
        assert main is not None and "main.run('lock', 'pico')" in main
        assert board.alive(), board.diagnostics()
