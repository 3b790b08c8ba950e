"""One opening: the acceptance cases, accounting, and monotonicity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keylock.hw_models import power
from keylock.hw_models.params import CR2032, CR2450, DEFAULT_LOCK


def test_fresh_CR2032_at_20C_opens():
    r = power.simulate_opening(CR2032, 1.0, 20.0)
    assert r.booted and r.completed and not r.browned_out and not r.key_reset
    assert r.reset_phase[()] == ""
    # The lock charges its reservoir only as far as this cell needs (issue 14): the motor pulse
    # ends at the brown-out plus the ready margin, no longer 0.3 V above it.
    assert r.min_supply_V >= DEFAULT_LOCK.brownout_V + DEFAULT_LOCK.ready_margin_V - 0.01


def test_20pct_at_minus20C_boots_then_browns_out_under_the_motor():
    r = power.simulate_opening(CR2032, 0.2, -20.0)
    assert r.booted  # it boots and authenticates...
    assert r.browned_out and not r.completed
    assert r.reset_phase[()] == "motor"  # ...and resets under the motor pulse
    motor = r.phase_names.index("motor")
    assert r.phase_start_s[motor] <= r.reset_time_s < r.phase_start_s[motor] + power.load_phases()[motor].duration_s
    assert r.min_supply_V < DEFAULT_LOCK.brownout_V


def test_the_same_20pct_key_opens_at_room_temperature():
    assert power.simulate_opening(CR2032, 0.2, 20.0).completed


def test_array_inputs_match_scalar_calls():
    socs = np.array([1.0, 0.5, 0.2])
    temps = np.array([[20.0], [-20.0]])
    batch = power.simulate_opening(CR2032, socs, temps)
    assert batch.completed.shape == (2, 3)
    for i, t in enumerate(temps[:, 0]):
        for j, s in enumerate(socs):
            one = power.simulate_opening(CR2032, s, t)
            assert bool(one.completed) == batch.completed[i, j]
            np.testing.assert_allclose(one.energy_J, batch.energy_J[i, j], rtol=1e-12)
            np.testing.assert_allclose(one.min_supply_V, batch.min_supply_V[i, j], rtol=1e-12)


def test_charge_adds_up_and_covers_reservoir_and_motor():
    r = power.simulate_opening(CR2032, 1.0, 20.0)
    dt_s = r.time_s[1] - r.time_s[0]
    # The recorded current integrates to the charge debited (the whole trace is the opening).
    assert np.sum(r.battery_current_A) * dt_s == pytest.approx(float(r.charge_C), rel=1e-9)
    motor = power.load_phases()[r.phase_names.index("motor")]
    stored_C = DEFAULT_LOCK.mcu_rail_F * r.supply_V[-1]  # the reservoir stays empty for this cell (issue 14)
    assert r.charge_C > stored_C + motor.current_A * motor.duration_s
    # Energy per opening in a plausible band: ~14 mJ since the switch and the reservoir charged
    # only when the cell needs it (issue 14; ~0.1 J before), above the motor's ~8 mJ.
    assert 0.01 < float(r.energy_J) < 0.02


def test_a_bigger_cell_carries_the_cold_weak_case():
    assert power.simulate_opening(CR2450, 0.2, -20.0).completed


@settings(max_examples=40, deadline=None)
@given(
    soc=st.floats(0.05, 1.0),
    dsoc=st.floats(0.0, 0.5),
    temperature_C=st.floats(-30.0, 60.0),
    dT=st.floats(0.0, 40.0),
)
def test_lower_charge_or_colder_never_helps(soc, dsoc, temperature_C, dT):
    weak_soc = max(soc - dsoc, 0.0)
    cold_C = max(temperature_C - dT, -30.0)
    r = power.simulate_opening(CR2032, np.array([soc, weak_soc, soc]), np.array([temperature_C, temperature_C, cold_C]))
    strong, weak, cold = 0, 1, 2
    floor_V = DEFAULT_LOCK.brownout_V + DEFAULT_LOCK.ready_margin_V
    for other in (weak, cold):
        # Completing, booting and keeping the key alive are monotone outright.
        assert r.completed[other] <= r.completed[strong]
        assert r.booted[other] <= r.booted[strong]
        assert r.key_reset[strong] <= r.key_reset[other]
        # The lock charges each cell's reservoir to what that cell needs (issue 14), so the low
        # point of a completed opening that needed the reservoir sits near the floor whatever the
        # cell (the level treats rail and reservoir as sagging together, so it can land a few tens
        # of mV under it): no longer a monotone margin; the recorded minimum agrees with completion.
        if r.completed[other]:
            assert DEFAULT_LOCK.brownout_V <= r.min_supply_V[other] <= max(floor_V + 0.5, r.min_supply_V[strong])
