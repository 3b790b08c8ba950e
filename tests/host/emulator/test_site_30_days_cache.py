"""The 30-day benchmark site run with the insertion cache and without it: the same outcome at
every step, and every key's state of charge at every step within what the cache's charge
tolerance allows."""

import pytest

from keylock.benchmarks import site_30_days
from keylock.host.emulator.engine import SiteEngine
from keylock.host.scenario import parse, runner


class _Engine(SiteEngine):
    def __init__(self, physics_cache):
        super().__init__("cpython")
        self.physics_cache = physics_cache

    def setup(self, scenario):
        super().setup(scenario)
        self.s.physics.enabled = self.physics_cache


def test_a_cached_and_an_exact_run_of_site_30_days_agree_step_by_step():
    scenario = parse.load(site_30_days.SCENARIO)
    cached, exact = (runner.run(scenario, _Engine(physics_cache), "cpython") for physics_cache in (True, False))
    assert cached.passed and exact.passed
    assert len(cached.steps) == len(exact.steps) == len(scenario.steps)
    openings = 0
    for got, want in zip(cached.steps, exact.steps, strict=True):
        line = got.step.line
        assert (got.outcome.result, got.outcome.reason, got.outcome.code) == (
            want.outcome.result,
            want.outcome.reason,
            want.outcome.code,
        ), line
        assert (got.outcome.fields, got.outcome.keys, got.outcome.at_risk) == (
            want.outcome.fields,
            want.outcome.keys,
            want.outcome.at_risk,
        ), line
        for name, value in want.outcome.details.items():
            if name == "soc" or name.startswith("soc_"):
                assert got.outcome.details[name] == pytest.approx(value, abs=2e-4), (line, name)  # rounded to 1e-4
        openings += got.step.action == "open"
    assert openings == 409
