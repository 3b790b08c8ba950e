"""hw_models.insertion.CellInsertion is power.Insertion for one cell: the same outcome, phase and
time, and the same charge, energy and supply minima to rounding, on every kind of insertion."""

import math

import pytest

from keylock.hw_models import CR2032, DEFAULT_LOCK, power
from keylock.hw_models.insertion import CellInsertion

LOCK = DEFAULT_LOCK


def transaction(path):
    """What the emulator asks: the in-rush, frames, and wait + motor + audit tried on a copy."""
    path.charge()
    for n_bytes in (40, 120, 60, 180):
        path.run("receive", power.wire_time_s(n_bytes), LOCK.mcu_active_current_A)
    trial = path.copy()
    trial.run("wait", LOCK.max_wait_s, LOCK.idle_current_A, until_V="ready")
    trial.run("motor", LOCK.motor_s, LOCK.motor_current_A)
    trial.run("audit", 0.003, LOCK.mcu_active_current_A)
    trial.run("reply", power.wire_time_s(30), LOCK.mcu_active_current_A)
    return path, trial


def scalar(x):
    return float(x[()]) if hasattr(x, "shape") else float(x)


@pytest.mark.parametrize(
    "soc, temperature_C, outcome, phase",
    [
        pytest.param(1.0, 20.0, None, "reply", id="fresh"),
        pytest.param(0.5, 20.0, None, "reply", id="half, reservoir charged first"),
        pytest.param(0.21, 20.0, None, "reply", id="weak, long wait"),
        pytest.param(0.2, -20.0, power.LOCK_RESET, "motor", id="weak and cold: browns out in the motor"),
        pytest.param(0.02, -30.0, power.KEY_RESET, "charging", id="nearly empty: the key resets"),
    ],
)
def test_the_scalar_kernel_is_the_array_kernel(soc, temperature_C, outcome, phase):
    arrays = transaction(power.Insertion(CR2032, soc, temperature_C))
    floats = transaction(CellInsertion(CR2032, soc, temperature_C))
    assert floats[1].outcome == outcome and floats[1].phase == phase  # the case is what its name says
    for a, f in zip(arrays, floats, strict=True):
        assert f.outcome == a.outcome[()] and f.phase == a.phase[()]
        assert f.elapsed_s == pytest.approx(a.elapsed_s, abs=1e-12)
        for name in ("charge_C", "energy_J", "min_supply_V", "min_key_supply_V", "supply_V", "reservoir_V"):
            want, got = scalar(getattr(a, name)), scalar(getattr(f, name))
            assert got == pytest.approx(want, rel=1e-9, abs=1e-15) or (math.isinf(want) and math.isinf(got)), name
        assert f.ready_V() == pytest.approx(scalar(a.ready_V()), rel=1e-12)


def test_a_copy_is_independent():
    path = CellInsertion(CR2032, 0.6, 20.0)
    path.charge()
    trial = path.copy()
    trial.run("motor", LOCK.motor_s, LOCK.motor_current_A)
    assert trial.charge_C > path.charge_C and trial.elapsed_s > path.elapsed_s
    assert path.phase == "charging" and trial.phase == "motor"


def test_out_of_range_input_is_refused():
    with pytest.raises(ValueError, match="soc"):
        CellInsertion(CR2032, 1.2, 20.0)
    path = CellInsertion(CR2032, 0.6, 20.0)
    path.charge()
    with pytest.raises(ValueError, match="duration_s"):
        path.run("receive", -1.0, LOCK.mcu_active_current_A)
