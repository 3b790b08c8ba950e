"""Markers by what a test does, so `pytest -m "not slow"` is the quick loop while editing.

A test is marked here from its file (below) or from the fixtures it uses, so a new test in a
marked file is marked too; modules may add marks of their own (`pytestmark`).

  micropython  runs the firmware on real MicroPython (the WebAssembly port under Node.js)
  end_to_end   drives real processes, ports or boards from the outside, as a user would
  slow         seconds or more: MicroPython, real processes, pyright, big hypothesis runs
"""

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Files whose every test has these marks, by path under tests/.
MARKS_BY_FILE = {
    "firmware/test_on_micropython.py": ("micropython", "slow"),
    "firmware/test_handshake_runtimes.py": ("micropython", "slow"),
    "firmware/test_static.py": ("slow",),  # pyright and mpy-cross over the firmware
    "benchmarks/test_bench_handshake.py": ("micropython", "slow"),
    "host/cli/test_flash_end_to_end.py": ("micropython", "end_to_end", "slow"),
    "host/runtime/test_emulated_board.py": ("micropython", "end_to_end", "slow"),
    "host/cli/test_device.py": ("end_to_end",),  # real ptys and sockets of a served site
    "host/cli/test_device_errors.py": ("end_to_end",),
    "host/cli/test_replay.py": ("end_to_end",),
    "host/cli/test_site.py": ("end_to_end", "slow"),  # every library scenario through `keylock site`, real processes
    "host/cli/test_demo.py": ("slow",),
    "host/link/test_noise.py": ("end_to_end", "slow"),  # a real `keylock` process per case
    "host/testing/test_plugin.py": ("end_to_end", "slow"),  # pytester runs and `keylock emulate`
    "host/testing/test_site_isolation.py": ("end_to_end", "slow"),  # pytester runs, some under -n 2
    "host/testing/test_coexistence.py": ("end_to_end", "slow"),  # a pytest process with pytest-embedded
    "host/server/test_crash.py": ("end_to_end", "slow"),  # a server process killed mid-write
    "hw_models/test_power.py": ("slow",),  # hypothesis over whole openings
}
# Fixtures that bring these marks with them.
MARKS_BY_FIXTURE = {
    "micropython": ("micropython", "slow"),
    "board": ("micropython", "end_to_end", "slow"),
    "served": ("end_to_end",),
}


def pytest_collection_modifyitems(items):
    for item in items:
        try:
            relative = Path(str(item.path)).resolve().relative_to(TESTS).as_posix()
        except ValueError:  # a pytester file outside tests/
            continue
        names = set(MARKS_BY_FILE.get(relative, ()))
        for fixture in getattr(item, "fixturenames", ()):
            names.update(MARKS_BY_FIXTURE.get(fixture, ()))
        for name in sorted(names):
            item.add_marker(getattr(pytest.mark, name))
