"""The pieces of flashing on their own: compiling, main.py, mpremote's errors, INFO checks."""

import hashlib
import subprocess

import pytest

from keylock.host.errors import KeylockError
from keylock.host.runtime import deploy
from keylock.host.runtime.micropython import MicroPython

FIRMWARE = deploy.FIRMWARE_DIR


def test_mpy_cross_output_exists_for_every_file_of_the_manifest(tmp_path):
    compiled = deploy.compile_firmware(tmp_path)
    listed = [e.target.removeprefix("keylock_fw/").removesuffix(".py") for e in deploy.firmware_manifest().files]
    assert [c.module for c in compiled] == listed
    assert "board_main" in listed and "ports.emulator" not in listed
    for c in compiled:
        mpy = tmp_path / "keylock_fw" / f"{c.module}.mpy"
        assert c.path == mpy and mpy.is_file()
        assert c.remote == f"/lib/keylock_fw/{c.module}.mpy"
        data = mpy.read_bytes()
        assert data[:2] == b"M\x06"  # .mpy version 6, what MicroPython 1.27 loads
        assert c.mpy_bytes == len(data) and c.source_bytes == (FIRMWARE / f"{c.module}.py").stat().st_size
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.mpy")) == sorted(f"keylock_fw/{m}.mpy" for m in listed)


def fake_firmware(tmp_path, monkeypatch, manifest_text):
    """A firmware folder of three modules, one in a subfolder, with MANIFEST_TEXT as its manifest."""
    firmware = tmp_path / "firmware"
    (firmware / "ports").mkdir(parents=True)
    (firmware / "__init__.py").write_text("")
    (firmware / "app.py").write_text("from .ports import rp2\n")
    (firmware / "ports" / "__init__.py").write_text("")
    (firmware / "ports" / "rp2.py").write_text("PINS = 3\n")
    (firmware / "manifest.py").write_text(manifest_text)
    monkeypatch.setattr(deploy, "FIRMWARE_DIR", firmware)
    monkeypatch.setattr(deploy, "MANIFEST", firmware / "manifest.py")
    return firmware


def test_subfolders_are_kept_in_the_build_and_on_the_board(tmp_path, monkeypatch):
    files = ["__init__.py", "app.py", "ports/__init__.py", "ports/rp2.py"]
    fake_firmware(tmp_path, monkeypatch, f"metadata(version='9')\npackage('keylock_fw', files={files!r}, opt=2)\n")
    build = tmp_path / "build"
    compiled = deploy.compile_firmware(build)
    assert [c.module for c in compiled] == ["__init__", "app", "ports.__init__", "ports.rp2"]
    assert [c.remote for c in compiled] == [
        "/lib/keylock_fw/__init__.mpy",
        "/lib/keylock_fw/app.mpy",
        "/lib/keylock_fw/ports/__init__.mpy",
        "/lib/keylock_fw/ports/rp2.mpy",
    ]
    assert all(c.path == build / c.remote.removeprefix("/lib/") and c.path.is_file() for c in compiled)

    calls = []

    def mpremote(port, args, step):  # answers as the board would: the SHA-256 of what was sent
        calls.append(args)
        local = {c.remote: c.path for c in compiled} | {"/main.py": main}
        return "".join(f"sha256sum :{r}\n{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for r, p in local.items())

    main = build / "main.py"
    main.write_text(deploy.main_py("lock"))
    monkeypatch.setattr(deploy, "mpremote", mpremote)
    copied = deploy.deploy("/dev/x", compiled, main)
    assert [c.path for c in copied] == [c.remote for c in compiled] + ["/main.py"]
    args = calls[0]
    assert "/lib/keylock_fw/ports'" in args[1]  # the prepare script makes the subfolder
    copies = " ".join(args).split(" + ")
    assert f"fs cp {build}/keylock_fw/__init__.mpy {build}/keylock_fw/app.mpy :/lib/keylock_fw/" in copies
    assert f"fs cp {build}/keylock_fw/ports/__init__.mpy {build}/keylock_fw/ports/rp2.mpy :/lib/keylock_fw/ports/" in copies


def test_the_prepare_script_empties_the_package_and_makes_its_folders_on_micropython():
    # On real MicroPython (the WebAssembly port, where the firmware is mounted at /lib/keylock_fw):
    # a stale file in a stale subfolder goes, and the folders the copy needs are made.
    script = deploy._prepare_script(deploy._with_parents(["/lib/keylock_fw/ports/deep"]))
    with MicroPython() as mp:
        mp.exec("import os\nos.mkdir('/lib/keylock_fw/old')\nopen('/lib/keylock_fw/old/stale.py', 'w').write('x = 1')")
        mp.exec(script)
        assert mp.eval("sorted(os.listdir('/lib/keylock_fw'))") == ["ports"]
        assert mp.eval("os.listdir('/lib/keylock_fw/ports')") == ["deep"]
        assert mp.eval("os.listdir('/lib/keylock_fw/ports/deep')") == []


def test_a_manifest_outside_the_package_or_empty_is_refused(tmp_path, monkeypatch):
    fake_firmware(tmp_path, monkeypatch, "metadata(version='9')\nmodule('app.py')\n")
    with pytest.raises(
        KeylockError, match=r"manifest.py lists app.py, outside the package keylock_fw/: keylock flash installs only keylock_fw"
    ):
        deploy.firmware_manifest()
    fake_firmware(tmp_path / "empty", monkeypatch, "metadata(version='9')\n")
    with pytest.raises(KeylockError, match="manifest.py lists no files: a board would get no firmware"):
        deploy.compile_firmware(tmp_path / "build")
    fake_firmware(tmp_path / "bad", monkeypatch, "metadata(version='9')\npackage('keylock_fw', files=['gone.py'])\n")
    with pytest.raises(KeylockError, match=r"line 2: package\('keylock_fw'\): no such file .*firmware/gone.py"):
        deploy.compile_firmware(tmp_path / "build")


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
