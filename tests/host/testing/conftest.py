import json
import select
import subprocess
import sys
from pathlib import Path

import pytest

# The scenario-file tests here run the scripted engine of tests/host/scenario by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenario"))


@pytest.fixture(scope="module")
def emulate():
    """A separate `keylock emulate` process: its JSON line, then it is always terminated."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keylock.host.cli", "emulate", "--keys", "2", "--locks", "1", "--duration", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "keylock emulate printed nothing in 60 s"
        yield json.loads(process.stdout.readline())["emulate"]
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
