import sys
from pathlib import Path

import pytest

from keylock.host.runtime.micropython import MicroPython

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # strategies.py
FIRMWARE_TESTS = HERE.parent / "firmware"


@pytest.fixture(scope="module")
def micropython():
    """Real MicroPython with the firmware and the runtime-neutral test helpers (fwenv)."""
    with MicroPython(mounts={FIRMWARE_TESTS: "/fwtests"}) as mp:
        mp.exec("import sys, json\nsys.path.append('/fwtests')\nimport fwenv")
        yield mp
