"""The key's backup capacitor through a battery change: does it keep clock and pairing?

An RC discharge from the regulated rail into the retained domain (clock, pairing RAM):
V(t) = V0 exp(-t / RC). Clock and pairing survive while V stays at or above the domain's minimum,
so the hold time is RC ln(V0 / V_min): 60.1 s with the documented defaults, which is the
product's "battery out for a minute or more releases pairing" rule.
"""

import numpy as np

from .params import DEFAULT_RETENTION, check_range


def time_constant_s(params=DEFAULT_RETENTION):
    """R C [s]."""
    return params.load_ohm * params.capacitance_F


def backup_voltage_V(elapsed_s, params=DEFAULT_RETENTION):
    """Capacitor voltage [V] `elapsed_s` [s] after the battery was taken out (closed form)."""
    elapsed_s = check_range("elapsed_s", elapsed_s, 0.0, np.inf, "s")
    return params.charge_V * np.exp(-elapsed_s / time_constant_s(params))


def step(voltage_V, dt_s, params=DEFAULT_RETENTION, battery_present=False):
    """Advance the capacitor voltage [V] by `dt_s` [s]; with the battery in, it sits at the rail.

    Exact for the step, so a run of steps can be checked against `backup_voltage_V`.
    """
    decayed = np.asanyarray(voltage_V) * np.exp(-np.asanyarray(dt_s) / time_constant_s(params))
    return np.where(battery_present, params.charge_V, decayed)


def hold_time_s(params=DEFAULT_RETENTION):
    """Longest battery removal that keeps clock and pairing [s]."""
    return time_constant_s(params) * np.log(params.charge_V / params.hold_min_V)


def retained(removal_s, params=DEFAULT_RETENTION):
    """True where clock and pairing survive a battery removal of `removal_s` [s]."""
    return backup_voltage_V(removal_s, params) >= params.hold_min_V
