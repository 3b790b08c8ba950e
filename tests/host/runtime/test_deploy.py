"""The pieces of flashing on their own: compiling, main.py, mpremote's errors, INFO checks."""

import socket
import subprocess

import pytest

from keylock.host import cli
from keylock.host.errors import KeylockError
from keylock.host.runtime import deploy

FIRMWARE = deploy.FIRMWARE_DIR


def test_mpy_cross_output_exists_for_every_module(tmp_path):
    compiled = deploy.compile_firmware(tmp_path)
    sources = sorted(p.stem for p in FIRMWARE.glob("*.py"))
    assert [c.module for c in compiled] == sources
    assert "board_main" in sources
    for c in compiled:
        mpy = tmp_path / "keylock_fw" / f"{c.module}.mpy"
        assert c.path == mpy and mpy.is_file()
        data = mpy.read_bytes()
        assert data[:2] == b"M\x06"  # .mpy version 6, what MicroPython 1.27 loads
        assert c.mpy_bytes == len(data) and c.source_bytes == (FIRMWARE / f"{c.module}.py").stat().st_size


def test_main_py_starts_the_roles_host_link(tmp_path):
    for role in ("key", "lock"):
        text = deploy.main_py(role)
        assert f"board_main.run({role!r})" in text
        compile(text, "main.py", "exec")


def test_mpremote_failures_read_as_what_went_wrong():
    def failure(stderr):
        return deploy._mpremote_failure("/dev/ttyACM0", "copying the firmware", subprocess.CompletedProcess([], 1, "", stderr))

    assert "another program" in failure("mpremote: failed to access /dev/ttyACM0 (it may be in use by another program)\n")
    assert "does not answer as a MicroPython REPL" in failure("mpremote: could not enter raw repl\n")
    msg = failure("mpremote: cp: No space left on device: ENOSPC.\n")
    assert "exit 1" in msg and "No space left" in msg


def test_a_wrong_answer_is_an_error():
    good = {"role": "lock", "fw_major": 0, "fw_minor": 1, "fw_patch": 0}
    deploy.check_info("/dev/x", "lock", good)
    with pytest.raises(KeylockError, match="answered INFO as a lock, not a key"):
        deploy.check_info("/dev/x", "key", good)
    with pytest.raises(KeylockError, match="runs firmware 0.0.9, not 0.1.0"):
        deploy.check_info("/dev/x", "lock", dict(good, fw_minor=0, fw_patch=9))


def test_sha256_lines_are_read_per_path():
    out = "sha256sum :/main.py\n" + "ab" * 32 + "\nsha256sum :/lib/keylock_fw/frame.mpy\n" + "cd" * 32 + "\n"
    assert deploy._sha256_lines(out) == {"/main.py": "ab" * 32, "/lib/keylock_fw/frame.mpy": "cd" * 32}
