"""keylock as a user gets it: a wheel built from this tree with no network, installed into a
fresh venv and run from outside the repository.

Offline by design: the build backend and the runtime dependencies come from `.wheelhouse/`,
which `make setup` fills while PyPI is reachable. The tree is copied before the build, so
setuptools' build/ and egg-info land in the copy, not in the working tree, and a stale build/
cannot put modules that no longer exist into the wheel.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

import keylock.host.runtime
import keylock.protocol
from keylock.firmware.version import FW_VERSION
from keylock.host.scenario import LIBRARY_DIR

pytestmark = [pytest.mark.slow, pytest.mark.end_to_end]

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".wheelhouse"
VERSION = ".".join(map(str, FW_VERSION))
SETUP_HINT = "run `make setup` (with PyPI reachable) to fill .wheelhouse/"

# Not source: set-up, caches and build output, at the top of the tree; caches anywhere.
_NOT_SOURCE_AT_ROOT = {".git", ".venv", "node_modules", ".typings", ".wheelhouse", "build", "dist", "out", ".pytest_cache", ".hypothesis"}
_NOT_SOURCE_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")

BUILD_TIMEOUT_S = 300
VENV_TIMEOUT_S = 120
INSTALL_TIMEOUT_S = 300
RUN_TIMEOUT_S = 180


def _ignore(folder, names):
    ignored = set(_NOT_SOURCE_ANYWHERE(folder, names))
    if Path(folder) == ROOT:
        ignored |= _NOT_SOURCE_AT_ROOT & set(names)
    return ignored


def _env():
    # Nothing from this venv or the caller's pip settings leaks into the build or the new venv.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1")
    return env


def _run(cmd, cwd, timeout):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _output(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="module")
def wheelhouse():
    if not any(WHEELHOUSE.glob("setuptools-*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE} (the build backend and keylock's dependencies as wheels): {SETUP_HINT}", pytrace=False)
    return WHEELHOUSE


@pytest.fixture(scope="module")
def wheel(wheelhouse, tmp_path_factory):
    source = tmp_path_factory.mktemp("source") / "keylock"
    shutil.copytree(ROOT, source, ignore=_ignore, symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-cache-dir", "--find-links", wheelhouse, "-w", out, source]
    proc = _run(cmd, out, BUILD_TIMEOUT_S)
    assert proc.returncode == 0, f"building the wheel offline failed (if a build requirement is missing, {SETUP_HINT})\n{_output(proc)}"
    wheels = list(out.glob("keylock-*.whl"))
    assert len(wheels) == 1, f"expected one keylock wheel in {out}, found {wheels}"
    yield wheels[0]
    shutil.rmtree(source.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def names(wheel):
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


@pytest.fixture(scope="module")
def venv(wheel, wheelhouse, tmp_path_factory):
    place = tmp_path_factory.mktemp("installed")
    venv = place / "venv"
    proc = _run([sys.executable, "-m", "venv", venv], place, VENV_TIMEOUT_S)
    assert proc.returncode == 0, f"python -m venv failed\n{_output(proc)}"
    cmd = [venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-cache-dir", "--find-links", wheelhouse, wheel]
    proc = _run(cmd, place, INSTALL_TIMEOUT_S)
    assert proc.returncode == 0, f"installing the wheel offline failed (if a dependency is missing, {SETUP_HINT})\n{_output(proc)}"
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture(scope="module")
def outside(venv):
    """A working directory outside the repository, so nothing is imported from the tree."""
    cwd = venv.parent
    assert ROOT not in cwd.resolve().parents
    return cwd


def test_the_wheel_has_the_firmware_version(wheel, names):
    assert wheel.name == f"keylock-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(f"keylock-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata


def test_the_wheel_holds_what_keylock_needs_at_run_time(names):
    held = set(names)

    def expect(prefix, files):
        files = sorted(files)
        assert files, f"nothing in the source tree for {prefix}"
        missing = [f"{prefix}/{p.name}" for p in files if f"{prefix}/{p.name}" not in held]
        assert not missing, f"not in the wheel: {missing}"

    expect("keylock/host/scenario/library", LIBRARY_DIR.glob("*.scenario.yaml"))
    expect("keylock/host/runtime", Path(keylock.host.runtime.__file__).parent.glob("*.mjs"))
    expect("keylock/protocol/vectors", (Path(keylock.protocol.__file__).parent / "vectors").glob("*.json"))
    assert any(re.fullmatch(r"keylock-[^/]+\.dist-info/(licenses/)?LICENSE", n) for n in names), "LICENSE is not in the wheel"


def test_the_wheel_holds_nothing_from_tests(wheel, names):
    assert {n.split("/")[0] for n in names} == {"keylock", f"keylock-{VERSION}.dist-info"}
    paths = [PurePosixPath(n) for n in names]
    assert not [p for p in paths if "tests" in p.parts or p.name == "conftest.py" or p.name.startswith("test_")]
    # Helpers of the tests under any name: no file of the wheel is a copy of one in tests/.
    test_files = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p
        for p in (ROOT / "tests").rglob("*")
        if p.is_file() and p.stat().st_size and "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(wheel) as zf:
        copies = {n: test_files[h] for n in names if (h := hashlib.sha256(zf.read(n)).hexdigest()) in test_files}
    assert not copies, f"files from tests/ in the wheel: {copies}"


def test_installed_keylock_runs_from_the_venv(venv, outside):
    code = "import keylock.host.cli, keylock.firmware.version as v; print(keylock.host.cli.__file__); print(v.FW_VERSION)"
    proc = _run([venv / "bin" / "python", "-c", code], outside, RUN_TIMEOUT_S)
    assert proc.returncode == 0, _output(proc)
    where, version = proc.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve()), f"keylock imported from {where}, not from the venv"
    assert version == repr(FW_VERSION)


def test_installed_keylock_help_lists_demo(venv, outside):
    proc = _run([venv / "bin" / "keylock", "--help"], outside, RUN_TIMEOUT_S)
    assert proc.returncode == 0, _output(proc)
    assert re.search(r"^\s+demo\s", proc.stdout, re.MULTILINE), proc.stdout


def test_installed_keylock_demo_passes_the_whole_library(venv, outside):
    count = len(list(LIBRARY_DIR.glob("*.scenario.yaml")))
    proc = _run([venv / "bin" / "keylock", "demo", "--quiet"], outside, RUN_TIMEOUT_S)
    assert proc.returncode == 0, _output(proc)
    assert f"scenarios   {count} of {count} passed" in proc.stdout, _output(proc)
