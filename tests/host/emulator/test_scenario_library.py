"""Every scenario of the library (host/scenario/library, installed with the package) on every
runtime: CPython, real MicroPython (the WebAssembly port), and MicroPython's unix port with
each device in its own process and a board's heap. `keylock demo` runs the same files."""

import pytest

from keylock.host.emulator.factory import make_engine
from keylock.host.scenario import LIBRARY_DIR, report
from keylock.host.scenario.parse import load
from keylock.host.scenario.runner import run

LIBRARY = sorted(LIBRARY_DIR.glob("*.scenario.yaml"))


@pytest.mark.parametrize(
    "runtime",
    [
        pytest.param("cpython"),
        pytest.param("micropython", marks=[pytest.mark.micropython, pytest.mark.slow]),
        pytest.param("unix", marks=[pytest.mark.micropython, pytest.mark.slow]),
    ],
)
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name.removesuffix(".scenario.yaml"))
def test_scenario_passes(path, runtime):
    scenario = load(path)
    result = run(scenario, make_engine(runtime, scenario), runtime)
    bad = result.failed
    assert bad is None, (
        f"{path.name} step {bad.step.index} ({bad.step.action}, line {bad.step.line}): expected {report.expect_text(bad.expected)}, saw {report.seen_text(bad)}"
    )


def test_the_library_covers_every_action_denial_and_error():
    from keylock.host.scenario.model import DENIAL_REASONS, ERROR_CODES
    from keylock.host.scenario.parse import ACTIONS

    scenarios = [load(p) for p in LIBRARY]
    steps = [s for sc in scenarios for s in sc.steps]
    assert {s.action for s in steps} >= set(ACTIONS)
    seen_denials = {s.expect.reason for s in steps if s.expect and s.expect.result == "denied"}
    seen_errors = {s.expect.code for s in steps if s.expect and s.expect.result == "error"}
    assert set(ERROR_CODES) <= seen_errors, set(ERROR_CODES) - seen_errors
    # No step can wind a key's clock back, give key and lock different firmware or put a relay
    # between them: those are provoked in tests/host/emulator/test_authority.py.
    assert set(DENIAL_REASONS) - {"clock_rollback", "protocol_mismatch", "timeout"} <= seen_denials, set(DENIAL_REASONS) - seen_denials
