"""Run the runtime-neutral firmware tests (tests/firmware/test_fw_*.py) inside real MicroPython.

pytest runs those files under CPython directly; here each of their test functions runs again
in the WebAssembly port, with the firmware mounted as `keylock_fw` exactly as on a board, and
in the unix port (native), the firmware as .mpy.
"""

import ast
from pathlib import Path

import pytest

from keylock.benchmarks import fuzz_apps_core
from keylock.host.runtime.micropython import MicroPython, MicroPythonError
from keylock.host.runtime.unix_port import UnixPort
from keylock.protocol.vectors import VECTORS_FILE

FIRMWARE_TESTS = Path(__file__).resolve().parent
# The test modules themselves are compiled from source on the port, and the vectors are read
# whole: more heap than a device needs (each device's own budget is tested alone).
UNIX_TEST_HEAP = "1024wK"


def _test_functions():
    for path in sorted(FIRMWARE_TESTS.glob("test_fw_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield pytest.param(path.stem, node.name, id=f"{path.stem}::{node.name}")


BENCHMARKS = Path(fuzz_apps_core.__file__).resolve().parent


@pytest.fixture(scope="module", params=["webassembly", "unix"])
def micropython(request):
    """The WebAssembly port (folders copied into its memory) or the unix port (folders on
    sys.path where they are, with a capped heap: UNIX_TEST_HEAP)."""
    if request.param == "webassembly":
        mounts = {FIRMWARE_TESTS: "/fwtests", VECTORS_FILE.parent: "/vectors", BENCHMARKS: "/kl_bench"}
        port = MicroPython(mounts=mounts)
        port.exec("import sys\nsys.path.append('/fwtests')")
    else:
        port = UnixPort(heap=UNIX_TEST_HEAP, paths=[FIRMWARE_TESTS, BENCHMARKS], env={"KEYLOCK_VECTORS": str(VECTORS_FILE.parent)})
    with port as mp:
        assert mp.eval("__import__('sys').implementation.name") == "micropython"
        yield mp


@pytest.mark.parametrize("module, function", list(_test_functions()))
def test_firmware_test_passes_on_micropython(micropython, module, function):
    try:
        micropython.exec(f"import {module}\n{module}.{function}()")
    except MicroPythonError as exc:
        pytest.fail(f"{module}.{function} failed on MicroPython:\n{exc}")
