"""The insertion cache (host/emulator/physics_cache.py) never changes an outcome: near the
failing charge it integrates exactly, elsewhere it serves the floored cell's path, whose charge
is within CHARGE_RTOL of the exact one; and what it serves does not depend on what it holds."""

import numpy as np
import pytest

from keylock.host.emulator import physics_cache
from keylock.host.emulator.physics_cache import InsertionCache
from keylock.host.emulator.site import EmulatedSite
from keylock.hw_models import CR2032, DEFAULT_LOCK, power
from keylock.hw_models.insertion import CellInsertion

LOCK = DEFAULT_LOCK
CHARGE_RTOL = 0.04  # an opening's charge from the cache vs exact (worst seen 3.2 %, long waits near 45 degC)


def transaction(path):
    path.charge()
    for n_bytes in (40, 120, 60, 180):
        path.run("receive", power.wire_time_s(n_bytes), LOCK.mcu_active_current_A)
    trial = path.copy()
    trial.run("wait", LOCK.max_wait_s, LOCK.idle_current_A, until_V="ready")
    trial.run("motor", LOCK.motor_s, LOCK.motor_current_A)
    trial.run("audit", 0.003, LOCK.mcu_active_current_A)
    return trial


def summary(path):
    return path.outcome, path.phase, path.elapsed_s, path.charge_C, path.energy_J, path.min_supply_V


def site(tmp_path, cached):
    s = EmulatedSite("cpython", folder=tmp_path / ("cached" if cached else "exact"), physics_cache=cached)
    s.add_lock("L1", group="depot")
    s.add_key("K1", holder="H1")
    s.server.grant("K1", groups=["depot"])
    assert s.validate("K1") is None
    return s


@pytest.mark.parametrize("temperature_C", [-20.0, 0.0, 25.0, 45.0])
def test_the_cache_never_flips_an_opening_across_the_failing_charge(tmp_path, temperature_C):
    """The same openings on two sites, one cached and one exact, at states of charge that
    step (off the cache's grid) through where openings start to fail, key held 2 s."""
    cached, exact = site(tmp_path, True), site(tmp_path, False)
    outcomes = set()
    for soc in np.arange(0.10, 0.33, 0.0071):
        for s in (cached, exact):
            s.set_battery("K1", float(soc))
            s.set_temperature(temperature_C, key="K1")
        got, want = cached.open("K1", "L1", hold_s=2.0), exact.open("K1", "L1", hold_s=2.0)
        assert (got.outcome, got.reason) == (want.outcome, want.reason), soc
        used = soc - cached.keys["K1"].soc, soc - exact.keys["K1"].soc
        assert used[0] == pytest.approx(used[1], rel=CHARGE_RTOL), soc
        outcomes.add(want.reason)
    assert len(outcomes) >= 2  # the sweep crossed the failing charge
    served = cached.physics.hits + cached.physics.misses
    assert cached.physics.exact > 0 and served > 0  # both ways were taken
    cached.close()
    exact.close()


@pytest.mark.parametrize("soc, temperature_C", [(0.2, -20.0), (0.02, -30.0), (0.196, 20.0)])
def test_near_a_brown_out_or_a_time_out_the_path_is_the_exact_one(soc, temperature_C):
    """A lock reset in the motor, a key reset, a wait 2.6 s of 3: the exact path, to the bit."""
    got = transaction(InsertionCache().start(CR2032, soc, temperature_C))
    want = transaction(CellInsertion(CR2032, soc, temperature_C))
    assert got.exact
    assert summary(got) == summary(want)


def test_a_working_opening_is_served_from_the_floored_cell():
    cache = InsertionCache()
    got = transaction(cache.start(CR2032, 0.7013, 20.3))
    floored = transaction(CellInsertion(CR2032, 0.70, 20.0))
    assert not got.exact and cache.exact == 0
    assert summary(got)[:2] == summary(floored)[:2]
    assert summary(got)[2:] == pytest.approx(summary(floored)[2:], rel=1e-12)  # the grid's 0.7 is 350 * 0.002
    assert got.charge_C == pytest.approx(transaction(CellInsertion(CR2032, 0.7013, 20.3)).charge_C, rel=CHARGE_RTOL)


def test_what_is_served_does_not_depend_on_what_the_cache_holds():
    cold = transaction(InsertionCache().start(CR2032, 0.7013, 20.3))
    warm_cache = InsertionCache()
    transaction(warm_cache.start(CR2032, 0.7019, 20.1))  # the same bin, another cell: fills it
    misses = warm_cache.misses
    warm = transaction(warm_cache.start(CR2032, 0.7013, 20.3))
    assert warm_cache.misses == misses and warm_cache.hits > 0
    assert summary(warm) == summary(cold)


def test_a_key_pulled_near_the_lock_s_decision_is_integrated_exactly(monkeypatch):
    """Pulled or not is decided by the path's time: within HOLD_MARGIN_S of `hold_s` or past it, exact."""
    decided_s = transaction(CellInsertion(CR2032, 0.5, 20.0)).elapsed_s
    near = transaction(InsertionCache().start(CR2032, 0.5, 20.0, hold_s=decided_s + 0.1))
    far = transaction(InsertionCache().start(CR2032, 0.5, 20.0, hold_s=decided_s + 1.0))
    pulled = transaction(InsertionCache().start(CR2032, 0.5, 20.0, hold_s=decided_s - 0.5))
    assert near.exact and pulled.exact and not far.exact


def test_full_cache_drops_its_oldest_and_still_serves_the_same(monkeypatch):
    monkeypatch.setattr(physics_cache, "MAX_SNAPSHOTS", 5)
    cache = InsertionCache()
    got = transaction(cache.start(CR2032, 0.7013, 20.3))
    assert len(cache._snapshots) <= 5
    assert summary(got) == summary(transaction(InsertionCache().start(CR2032, 0.7013, 20.3)))
