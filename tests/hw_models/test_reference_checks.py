"""The six reference checks of shared/reference/hw_parameters.md, with their stated tolerances."""

import dataclasses

import numpy as np
import pytest

from keylock.hw_models import battery as bat
from keylock.hw_models import drain, thermal
from keylock.hw_models.params import CR2032, ThermalParams
from keylock.protocol.codes import LOW_BATTERY_SOC


def test_1_constant_0p2mA_at_23C_lasts_1125_to_1240_h_within_10pct():
    curve = bat.discharge_curve(CR2032, 0.2e-3, 23.0, dt_s=600.0)
    hours = float(curve["capacity_Ah"]) / 0.2e-3
    assert 1125 * 0.9 <= hours <= 1240 * 1.1
    assert 225e-3 * 0.9 <= float(curve["capacity_Ah"]) <= 240e-3 * 1.1


def test_2_same_duty_30mA_peaks_deliver_3_to_15pct_less_than_15mA_peaks():
    q15, q30 = bat.pulsed_capacity_Ah(CR2032, [15e-3, 30e-3], duty=0.01)
    assert 0.03 <= 1.0 - q30 / q15 <= 0.15


def test_3_terminal_voltage_under_30mA():
    assert bat.terminal_voltage_V(3.0, 30e-3, 10.0) == pytest.approx(2.70, abs=5e-3)
    sagged_V = bat.terminal_voltage_V(3.0, 30e-3, 30.0)
    assert sagged_V == pytest.approx(2.10, abs=5e-3)
    assert sagged_V < 2.5  # a 2.5 V brown-out trips
    # and the CR2032 set has exactly those resistances: 10 ohm fresh, 30 ohm at 170 mAh (74 % DoD)
    assert bat.r0_ohm(1.0, CR2032.reference_temperature_C, CR2032) == pytest.approx(10.0)
    assert bat.r0_ohm(0.26, CR2032.reference_temperature_C, CR2032) == pytest.approx(30.0)


def test_4_ten_uA_on_225mAh_lasts_about_2p57_years_within_30pct():
    cell = dataclasses.replace(CR2032, capacity_Ah=0.225)
    years = float(drain.battery_life(10e-6, cell, warn_soc=LOW_BATTERY_SOC)["years"])
    assert years == pytest.approx(2.57, rel=0.30)


def test_5_resistance_ratio_minus20_vs_25C_is_2p20():
    ratio = bat.arrhenius_factor(-20.0, CR2032) / bat.arrhenius_factor(25.0, CR2032)
    assert CR2032.activation_energy_J_per_mol == 11_000.0
    assert ratio == pytest.approx(2.20, abs=0.05)


# One isolated node: 0.2 kg of steel, hA = 0.1 W/K (the body node with no coupling).
STEEL_NODE = ThermalParams(body_mass_kg=0.2, body_cp_J_per_kg_K=490.0, body_hA_W_per_K=0.1, coupling_W_per_K=0.0)


def test_6_thermal_time_constant_and_steady_state():
    tau_s = thermal.first_order_tau_s(0.2, 490.0, 0.1)
    assert tau_s == pytest.approx(980.0, rel=0.01)
    dt_s = 1.0
    n = int(10 * tau_s / dt_s)
    heat_W = np.zeros((n, 2))
    heat_W[:, thermal.BODY] = 2.8
    temps_C = thermal.simulate(heat_W, dt_s, 20.0, STEEL_NODE)
    rise_K = temps_C[:, thermal.BODY] - 20.0
    assert rise_K[int(tau_s)] / 28.0 == pytest.approx(0.632, rel=0.01)
    assert rise_K[-1] == pytest.approx(28.0, rel=0.01)
