"""Every scenario of the library (tests/scenarios/*.scenario.yaml) on real MicroPython.

The pytest plugin collects the same files and runs them on CPython (their default runtime),
so one `make test` runs the whole library on both runtimes."""

from pathlib import Path

import pytest

from keylock.host.scenario import report as show
from keylock.host.scenario.engine import make_engine
from keylock.host.scenario.parse import load
from keylock.host.scenario.runner import run

LIBRARY = sorted((Path(__file__).resolve().parent / "scenarios").glob("*.scenario.yaml"))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name.removesuffix(".scenario.yaml"))
def test_scenario_passes_on_micropython(path):
    scenario = load(path)
    result = run(scenario, make_engine("micropython", scenario), "micropython")
    bad = result.failed
    assert bad is None, f"{path.name} step {bad.step.index} ({bad.step.action}, line {bad.step.line}): expected {show.expect_text(bad.expected)}, saw {show.seen_text(bad)}"


def test_the_library_covers_every_action_denial_and_error():
    from keylock.host.scenario.model import DENIAL_REASONS, ERROR_CODES
    from keylock.host.scenario.parse import ACTIONS

    scenarios = [load(p) for p in LIBRARY]
    steps = [s for sc in scenarios for s in sc.steps]
    assert {s.action for s in steps} >= set(ACTIONS)
    seen_denials = {s.expect.reason for s in steps if s.expect and s.expect.result == "denied"}
    seen_errors = {s.expect.code for s in steps if s.expect and s.expect.result == "error"}
    assert set(ERROR_CODES) <= seen_errors, set(ERROR_CODES) - seen_errors
    assert set(DENIAL_REASONS) - {"clock_rollback"} <= seen_denials, set(DENIAL_REASONS) - seen_denials
