# What a board gets, in micropython-lib's manifest format: the package keylock_fw, exactly
# the files listed below. `keylock flash` (host/runtime/deploy.py) reads this file with
# host/runtime/manifest.py, compiles each file with mpy-cross and copies it to
# /lib/keylock_fw/FILE (.mpy), subfolders kept; nothing else of this folder is sent.
#
# How the folder maps: on a board (and in the WebAssembly port) the package is keylock_fw/;
# in this repository it is this folder, firmware/ (installed as keylock.firmware for CPython).
# In MicroPython's format package("keylock_fw", files=[...]) reads ./keylock_fw/FILE and
# installs it as keylock_fw/FILE; keylock's reader is told that the package keylock_fw's
# folder is firmware/ (package_dirs, as setuptools' package-dir maps keylock.firmware), so it
# reads firmware/FILE. MicroPython's own tools (a frozen build, mip) would need this folder
# copied as keylock_fw/ beside this file.
#
# The board ports: with a board (`keylock flash --board pico`, which includes this manifest
# with options.board), its port goes too: ports/ common to boards and the one module its pin
# map (ports/pins.py) names; main.py then starts that port. Without a board (the emulated
# board, `--board webassembly`), no port: main.py serves the host link only (board_main).
#
# Not flashed, on purpose (tests/host/runtime/test_manifest.py fails on any other .py left
# out, so a new module cannot be forgotten):
#   manifest.py         this file: read on the host
#   ports/emulator.py   the emulator's port: it runs only in the emulator
#   ports/rp2.py, ports/esp32.py   each only to its own board
import ast
import os


def _fw_version():
    # FW_VERSION in version.py is the project's one version: read here, never typed twice.
    # keylock's reader sets __file__ for a manifest, as Python does for a script.
    with open(os.path.join(os.path.dirname(__file__), "version.py")) as f:
        for line in f:
            if line.startswith("FW_VERSION = "):
                return ".".join(str(n) for n in ast.literal_eval(line.split("=", 1)[1].strip()))
    raise ValueError("version.py has no line FW_VERSION = (MAJOR, MINOR, PATCH)")


metadata(
    version=_fw_version(),
    description="keylock firmware for key and lock: protocol, handshake, storage, apps and the board's host link",
)

FILES = [
    "__init__.py",
    "_const.py",
    "audit.py",
    "board_main.py",
    "codec.py",
    "crypto.py",
    "device.py",
    "flash.py",
    "frame.py",
    "hal.py",
    "handshake.py",
    "secure.py",
    "key_app.py",
    "lock_app.py",
    "session.py",
    "signed.py",
    "storage.py",
    "version.py",
]
PORTS_COMMON = ["ports/__init__.py", "ports/board.py", "ports/contact.py", "ports/main.py", "ports/pins.py"]


def _pin_maps():
    # ports/pins.py is plain data: its BOARDS, read here as the board does, never typed twice.
    names = {}
    with open(os.path.join(os.path.dirname(__file__), "ports", "pins.py")) as f:
        exec(f.read(), names)
    return names["BOARDS"]


options.defaults(board=None)
if options.board is not None:
    maps = _pin_maps()
    if options.board not in maps:
        raise ValueError("no pin map for the board " + repr(options.board) + " in ports/pins.py (" + ", ".join(sorted(maps)) + ")")
    FILES += PORTS_COMMON + ["ports/" + maps[options.board]["module"] + ".py"]

package("keylock_fw", files=FILES)
