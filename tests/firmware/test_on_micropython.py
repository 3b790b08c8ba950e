"""Run the runtime-neutral firmware tests (tests/firmware/test_fw_*.py) inside real MicroPython.

pytest runs those files under CPython directly; here each of their test functions runs again
in the WebAssembly port, with the firmware mounted as `keylock_fw` exactly as on a board.
"""

import ast
from pathlib import Path

import pytest

from keylock.benchmarks import fuzz_apps_core
from keylock.host.runtime.micropython import MicroPython, MicroPythonError
from keylock.protocol.vectors import VECTORS_FILE

FIRMWARE_TESTS = Path(__file__).resolve().parent


def _test_functions():
    for path in sorted(FIRMWARE_TESTS.glob("test_fw_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield pytest.param(path.stem, node.name, id=f"{path.stem}::{node.name}")


@pytest.fixture(scope="module")
def micropython():
    mounts = {FIRMWARE_TESTS: "/fwtests", VECTORS_FILE.parent: "/vectors", Path(fuzz_apps_core.__file__).resolve().parent: "/kl_bench"}
    with MicroPython(mounts=mounts) as mp:
        mp.exec("import sys\nsys.path.append('/fwtests')")
        assert mp.eval("sys.implementation.name") == "micropython"
        yield mp


@pytest.mark.parametrize("module, function", list(_test_functions()))
def test_firmware_test_passes_on_micropython(micropython, module, function):
    try:
        micropython.exec(f"import {module}\n{module}.{function}()")
    except MicroPythonError as exc:
        pytest.fail(f"{module}.{function} failed on MicroPython:\n{exc}")
