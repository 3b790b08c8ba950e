"""Drain between openings, a key left in a lock, and retention through a battery change."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keylock.hw_models import drain, retention
from keylock.hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_RETENTION
from keylock.protocol.codes import LOW_BATTERY_SOC

DAY_S = 86_400.0


def test_key_left_in_lock_for_24h_loses_the_lock_idle_charge_more():
    removed = drain.drain(0.8, DAY_S, CR2032, 20.0, openings=5)
    left_in = drain.drain(0.8, DAY_S, CR2032, 20.0, openings=5, in_lock_s=DAY_S)
    modelled = DEFAULT_KEY_LOAD.lock_idle_current_A * DAY_S / drain.capacity_C(CR2032)
    assert removed - left_in == pytest.approx(modelled, rel=1e-9)
    assert modelled > 0.01  # over 1 % of the cell in a day: measurable
    # ...and several times what the key itself uses in that day
    assert removed - left_in > 3 * (0.8 - removed)


def test_closed_forms_agree():
    current_A = drain.average_current_A(openings_per_day=10, advertising_fraction=0.5)
    t_s = drain.time_to_soc_s(0.15, current_A, CR2032, 10.0)
    assert drain.soc_over_time(t_s, current_A, CR2032, 10.0) == pytest.approx(0.15, abs=1e-12)
    # drain() over that time with the same loads lands on the same charge
    soc = drain.drain(1.0, t_s, CR2032, 10.0, openings=10 * t_s / DAY_S, advertising_fraction=0.5)
    assert soc == pytest.approx(0.15, abs=1e-9)


def test_life_reports_are_consistent():
    life = drain.battery_life(10e-6, warn_soc=LOW_BATTERY_SOC)
    assert life["days_to_warning"] < life["days"]
    assert life["days"] / 365.25 == pytest.approx(life["years"])
    cold = drain.battery_life(10e-6, temperature_C=-20.0, warn_soc=LOW_BATTERY_SOC)
    assert cold["years"] < life["years"]  # less capacity in the cold
    assert cold["days_to_warning"] < cold["days"]


@settings(max_examples=60, deadline=None)
@given(soc=st.floats(0.0, 1.0), hours=st.floats(0.0, 1e4), openings=st.integers(0, 100), temperature_C=st.floats(-30, 60))
def test_drain_never_adds_charge_and_more_use_takes_more(soc, hours, openings, temperature_C):
    after = drain.drain(soc, hours * 3600.0, CR2032, temperature_C, openings=openings)
    assert 0.0 <= after <= soc
    assert drain.drain(soc, hours * 3600.0, CR2032, temperature_C, openings=openings + 1) <= after


def test_59s_keeps_and_61s_loses_clock_and_pairing():
    assert retention.retained(59.0)
    assert not retention.retained(61.0)
    assert 59.0 < retention.hold_time_s() < 61.0


def test_stepped_rc_decay_matches_closed_form():
    dt_s = 0.25
    n = int(120 / dt_s)
    v = np.empty(n + 1)
    v[0] = DEFAULT_RETENTION.charge_V
    for k in range(n):
        v[k + 1] = retention.step(v[k], dt_s)
    expected = retention.backup_voltage_V(np.arange(n + 1) * dt_s)
    np.testing.assert_allclose(v, expected, rtol=1e-12, atol=0)
    assert retention.step(0.3, 1.0, battery_present=True) == DEFAULT_RETENTION.charge_V


def test_rc_pair_step_matches_closed_form():
    from keylock.hw_models import battery as bat

    r1, c1, i = 5.0, 0.4, 0.01
    v1 = 0.0
    for _ in range(40):
        v1 = bat.step_rc(v1, i, 0.1, r1, c1)
    assert v1 == pytest.approx(i * r1 * (1 - np.exp(-4.0 / (r1 * c1))), rel=1e-12)


@pytest.mark.parametrize("temperature_C", [-30.0, 0.0, 23.0, 55.0])
def test_the_drain_rates_are_drain_over_one_second(temperature_C):
    """What the emulator's advance steps every key with: drain's own debit, out of a lock and in one."""
    out_per_s, in_per_s = drain.drain_rates_per_s(CR2032, temperature_C)
    assert out_per_s == pytest.approx(0.5 - float(drain.drain(0.5, 1.0, CR2032, temperature_C)), rel=1e-9)
    assert in_per_s == pytest.approx(0.5 - float(drain.drain(0.5, 1.0, CR2032, temperature_C, in_lock_s=1.0)), rel=1e-9)
    assert in_per_s > out_per_s > 0
