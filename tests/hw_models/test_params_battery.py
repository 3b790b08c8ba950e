"""Parameter validation and the battery's basic laws."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keylock.hw_models import battery as bat
from keylock.hw_models import drain, power, retention, thermal
from keylock.hw_models.params import (
    BATTERIES,
    CR2032,
    DEFAULT_THERMAL,
    VENDORS,
    BatteryParams,
    KeyLoadParams,
    LoadPhase,
    LockParams,
    RetentionParams,
    SiteParams,
    ThermalParams,
    battery_by_name,
)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BatteryParams(capacity_Ah=-1.0), r"capacity_Ah=-1 is outside the valid range \[0.01, 5\] Ah"),
        (lambda: dataclasses.replace(CR2032, activation_energy_J_per_mol=1e6), r"valid range \[0, 60000\] J/mol"),
        (lambda: BatteryParams(ocv_points_V=(3.0, 2.0)), "equal length"),
        (lambda: BatteryParams(capacity_factor_points=(0.1, 0.75, 0.9, 1.0, 0.97)), r"valid range \[0.3, 1\]"),
        (lambda: LockParams(brownout_V=0.5), r"brownout_V=0.5 is outside the valid range \[1.6, 3\] V"),
        (lambda: LoadPhase("motor", 0.04, 5.0), r"current_A=5 is outside the valid range \[0, 1\] A"),
        (lambda: ThermalParams(body_hA_W_per_K=float("nan")), r"valid range \[0.001, 50\] W/K"),
        (lambda: KeyLoadParams(sleep_current_A=-1e-6), r"valid range \[0, 0.001\] A"),
        (lambda: RetentionParams(hold_min_V=2.0), "hold_min_V must be below charge_V"),
        (lambda: BatteryParams(c2_F=0.0), r"c2_F=0 is outside the valid range \[1e-06, 100000\] F"),
        (lambda: BatteryParams(r0_spread=2.0), r"r0_spread=2 is outside the valid range \[0, 1\]"),
        (lambda: SiteParams(left_in_lock_per_day=2.0), r"valid range \[0, 1\]"),
    ],
)
def test_out_of_range_parameters_raise_naming_the_range(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bat.ocv_V(1.2, CR2032), r"soc=1.2 is outside the valid range \[0, 1\]"),
        (lambda: bat.r0_ohm(0.5, -40.0, CR2032), r"CR2032 temperature_C=-40 is outside the valid range \[-30, 60\] degC"),
        (lambda: power.simulate_opening(CR2032, 0.5, 20.0, contact_ohm=9.0), r"contact_ohm=9 .* \[0, 5\] ohm"),
        (lambda: drain.drain(0.5, -1.0), r"duration_s=-1 is outside the valid range"),
        (lambda: thermal.simulate(np.full((3, 2), -1.0), 1.0, 20.0), r"heat_W=-1 is outside the valid range \[0, 100000\] W"),
        (lambda: retention.retained(-5.0), r"elapsed_s=-5 is outside the valid range \[0, inf\] s"),
        (lambda: battery_by_name("AA"), "known: CR2032, CR2450, CR2"),
    ],
)
def test_out_of_range_inputs_raise_naming_the_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_parameter_sets_are_frozen_and_cited():
    for cell in (*BATTERIES.values(), *VENDORS.values(), DEFAULT_THERMAL):
        assert cell.citation
    with pytest.raises(dataclasses.FrozenInstanceError):
        CR2032.capacity_Ah = 1.0  # type: ignore[misc]


def test_cr2_works_colder_than_coin_cells():
    assert bat.r0_ohm(0.5, -40.0, BATTERIES["CR2"]) > 0


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0), t1=st.floats(-30, 60), t2=st.floats(-30, 60))
def test_ocv_rises_with_charge_and_resistance_falls_with_warmth(a, b, t1, t2):
    lo, hi = sorted((a, b))
    cold, warm = sorted((t1, t2))
    assert bat.ocv_V(lo, CR2032) <= bat.ocv_V(hi, CR2032)
    assert bat.r0_ohm(lo, 20.0, CR2032) >= bat.r0_ohm(hi, 20.0, CR2032)
    assert bat.r0_ohm(0.5, cold, CR2032) >= bat.r0_ohm(0.5, warm, CR2032)
    assert bat.capacity_factor(cold, CR2032) <= 1.0


def test_scalar_and_array_inputs():
    assert np.ndim(bat.ocv_V(0.5, CR2032)) == 0
    assert bat.ocv_V(np.linspace(0, 1, 7), CR2032).shape == (7,)
    assert bat.r0_ohm(np.ones((2, 3)), np.array([-20.0, 0.0, 20.0]), CR2032).shape == (2, 3)


def test_discharge_curve_cold_delivers_k_T_of_the_capacity():
    curve = bat.discharge_curve(CR2032, 0.2e-3, np.array([-20.0, 23.0]), dt_s=1800.0)
    ratio = curve["capacity_Ah"][0] / curve["capacity_Ah"][1]
    assert ratio == pytest.approx(bat.capacity_factor(-20.0, CR2032), rel=0.02)
