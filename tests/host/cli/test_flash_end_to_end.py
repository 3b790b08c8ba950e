"""`keylock flash` for real: the MicroPython WebAssembly port's REPL served on a pty as an
emulated board (host/mp_board.mjs), the real mpy-cross and mpremote, the firmware started
there by a reset and answering over the same port."""

import json
import subprocess
import sys

from keylock.firmware import key_app, lock_app
from keylock.host import cli
from keylock.host.runtime.deploy import firmware_manifest
from keylock.protocol.codes import MsgType, Role

# What a board gets: the manifest's files, as .mpy under /lib (board_main included, the
# emulator's port not).
ON_BOARD = {"/lib/" + e.target.removesuffix(".py") + ".mpy" for e in firmware_manifest().files}


def test_flash_lock_then_ask_info_over_the_same_port(board, capsys, ask):
    assert cli.main(["flash", "--port", board.port, "--role", "lock"]) == 0
    out = capsys.readouterr().out
    assert f"flashed the lock firmware to {board.port}" in out
    assert "/lib/keylock_fw/lock_app.mpy" in out and "/main.py" in out
    assert "INFO:     role lock, firmware 0.1.0" in out

    # The firmware itself answers, over the port mpremote just used: INFO and STATUS.
    info = ask(board.port, MsgType.INFO_REQUEST, seq=0x21)
    assert info.type == MsgType.INFO
    assert info.fields["role"] == Role.LOCK
    assert (info.fields["fw_major"], info.fields["fw_minor"], info.fields["fw_patch"]) == lock_app.FW_VERSION
    assert info.fields["board"] == b"keylock-lock"
    status = ask(board.port, MsgType.STATUS_REQUEST, seq=0x22)
    assert status.type == MsgType.LOCK_STATUS
    assert status.fields["events"] == 0


def test_flash_key_over_a_running_lock_reports_json(board, capsys, ask):
    # The board is serving the lock's host link: mpremote's Ctrl-C between frames takes the
    # REPL back, and the key firmware replaces the lock's.
    assert cli.main(["flash", "--port", board.port, "--role", "key", "--board", "webassembly", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["role"] == "key" and report["port"] == board.port
    assert report["board"]["platform"] == "webassembly"
    assert report["board"]["mpy_version"] == 6
    compiled = {c["module"] for c in report["compiled"]}
    assert len(compiled) == len(ON_BOARD) and {"key_app", "board_main", "frame"} <= compiled
    copied = {c["path"] for c in report["copied"]}
    assert copied == ON_BOARD | {"/main.py"}
    assert not [p for p in copied if "emu_port" in p or "ports/emulator" in p or "manifest" in p]
    assert all(len(c["sha256"]) == 64 and c["bytes"] > 0 for c in report["copied"])
    assert report["info"]["role"] == "key"
    assert (report["info"]["fw_major"], report["info"]["fw_minor"], report["info"]["fw_patch"]) == key_app.FW_VERSION

    info = ask(board.port, MsgType.INFO_REQUEST, seq=0x03)  # a 0x03 inside a frame is data
    assert info.fields["role"] == Role.KEY
    assert info.fields["board"] == b"keylock-key"


def test_wrong_board_is_refused_before_anything_is_copied(board, capsys, ask):
    assert cli.main(["flash", "--port", board.port, "--role", "lock", "--board", "rp2"]) == 1
    err = capsys.readouterr().err
    assert "is a webassembly board" in err and "not rp2" in err and "nothing was copied" in err
    # Still the key from the test before: nothing was touched.
    assert ask(board.port, MsgType.INFO_REQUEST, seq=0x31).fields["role"] == Role.KEY


def test_the_board_holds_exactly_the_manifest(board):
    # Asked of the board itself after the flashes above: every file under /lib/keylock_fw.
    # The reset afterwards starts the key's main.py again.
    walk = (
        "import os\n"
        "def walk(p):\n"
        " for n in os.listdir(p):\n"
        "  q = p + '/' + n\n"
        "  if os.stat(q)[0] & 0x4000:\n   walk(q)\n"
        "  else:\n   print('FILE', q)\n"
        "walk('/lib/keylock_fw')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", board.port, "exec", walk, "+", "reset"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    on_board = {line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("FILE ")}
    assert on_board == ON_BOARD
    assert not [p for p in on_board if "emu_port" in p or "ports/emulator" in p]
