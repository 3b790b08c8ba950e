"""Charge drawn from the key's cell between openings, and the state of charge over time.

Every term is a constant current or a fixed charge, so the state of charge falls linearly and
the crossing times are closed-form; nothing here needs time stepping:

    d(soc)/dt = -(I_sleep + f_adv I_adv + f_lock I_lock_idle) / Q - lambda(T)    plus   -n q_open / Q

Q is the nominal capacity in coulombs, lambda(T) the self-discharge (fraction of nominal per
second, doubling every 10 K: Battery University BU-802b, and the 20 days at 60 degC that coin-cell
datasheets take for a year's storage). Over a day whose temperature swings, the mean of lambda
is larger than lambda at the day's mean (`drain(..., daily_swing_C=)`). A key left in a lock powers the lock, so the lock's idle current
flows through the contact for as long as the key stays in.
"""

import numpy as np

from . import battery as bat
from .params import CR2032, DEFAULT_KEY_LOAD, check_range

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY


def capacity_C(battery):
    """Nominal capacity [C]."""
    return battery.capacity_Ah * 3600.0


def average_current_A(key=DEFAULT_KEY_LOAD, advertising_fraction=1.0, openings_per_day=0.0, in_lock_fraction=0.0):
    """The key's average current [A], openings spread over the day."""
    advertising_fraction = check_range("advertising_fraction", advertising_fraction, 0.0, 1.0)
    in_lock_fraction = check_range("in_lock_fraction", in_lock_fraction, 0.0, 1.0)
    openings_per_day = check_range("openings_per_day", openings_per_day, 0.0, 10_000.0, "1/day")
    return (
        key.sleep_current_A
        + advertising_fraction * key.advertising_current_A
        + in_lock_fraction * key.lock_idle_current_A
        + openings_per_day * key.opening_charge_C / SECONDS_PER_DAY
    )


def charge_drawn_C(duration_s, key=DEFAULT_KEY_LOAD, openings=0, advertising_fraction=1.0, in_lock_s=0.0, opening_charge_C=None):
    """Charge the key's electronics take over `duration_s` [C], self-discharge excluded.

    `in_lock_s` [s] of the interval the key sat in a lock; `opening_charge_C` overrides the
    key's default per-opening charge (e.g. from `power.simulate_opening` at the real conditions).
    """
    duration_s = check_range("duration_s", duration_s, 0.0, 100 * SECONDS_PER_YEAR, "s")
    in_lock_s = check_range("in_lock_s", in_lock_s, 0.0, np.inf, "s")
    if np.any(in_lock_s > duration_s):
        raise ValueError("in_lock_s must be within [0, duration_s]")
    openings = check_range("openings", openings, 0.0, 1e7)
    q_open_C = key.opening_charge_C if opening_charge_C is None else opening_charge_C
    advertising_fraction = check_range("advertising_fraction", advertising_fraction, 0.0, 1.0)
    steady_A = key.sleep_current_A + advertising_fraction * key.advertising_current_A
    return steady_A * duration_s + key.lock_idle_current_A * in_lock_s + openings * q_open_C


def drain(
    soc,
    duration_s,
    battery=CR2032,
    temperature_C=23.0,
    key=DEFAULT_KEY_LOAD,
    openings=0,
    advertising_fraction=1.0,
    in_lock_s=0.0,
    opening_charge_C=None,
    daily_swing_C=0.0,
):
    """State of charge after `duration_s` [s] of virtual time at `temperature_C` [degC]; floors at 0.

    With `daily_swing_C` [K] the temperature is taken to swing by that amplitude around
    `temperature_C` each day, and the self-discharge is its mean over the day (for whole days).
    """
    soc = bat.check_soc(soc)
    used_C = charge_drawn_C(duration_s, key, openings, advertising_fraction, in_lock_s, opening_charge_C)
    self_soc = bat.self_discharge_per_s_over_day(temperature_C, daily_swing_C, battery) * duration_s
    return np.maximum(soc - used_C / capacity_C(battery) - self_soc, 0.0)


def drain_rates_per_s(battery=CR2032, temperature_C=23.0, key=DEFAULT_KEY_LOAD, advertising_fraction=1.0):
    """`drain`'s fall of the state of charge per second at `temperature_C` [degC], as floats: (out
    of a lock, in a lock) [1/s]. Constant while the temperature stays: a caller stepping many
    keys through time computes them once per temperature, not once per step."""
    capacity = capacity_C(battery)
    steady_A = key.sleep_current_A + float(check_range("advertising_fraction", advertising_fraction, 0.0, 1.0)) * key.advertising_current_A
    self_per_s = float(bat.self_discharge_per_s(temperature_C, battery))
    return steady_A / capacity + self_per_s, (steady_A + key.lock_idle_current_A) / capacity + self_per_s


def soc_rate_per_s(average_current_A, battery=CR2032, temperature_C=23.0):
    """Fall of the state of charge per second under a constant average current [1/s]."""
    current_A = check_range("average_current_A", average_current_A, 0.0, 1.0, "A")
    return current_A / capacity_C(battery) + bat.self_discharge_per_s(temperature_C, battery)


def soc_over_time(time_s, average_current_A, battery=CR2032, temperature_C=23.0, soc0=1.0):
    """State of charge at each `time_s` [s] under a constant average current [A]."""
    rate = soc_rate_per_s(average_current_A, battery, temperature_C)
    return np.maximum(bat.check_soc(soc0) - rate * np.asanyarray(time_s, dtype=float), 0.0)


def time_to_soc_s(soc_target, average_current_A, battery=CR2032, temperature_C=23.0, soc0=1.0):
    """Seconds until the state of charge falls to `soc_target` (0 if already there; inf if no drain)."""
    rate = soc_rate_per_s(average_current_A, battery, temperature_C)
    gap = np.maximum(bat.check_soc(soc0) - bat.check_soc(soc_target), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > 0, gap / rate, 0.0)


def usable_soc(soc, battery=CR2032, temperature_C=23.0):
    """Fraction of what a sustained discharge at `temperature_C` could deliver that is left [0..1]."""
    k_T = bat.capacity_factor(temperature_C, battery)
    return np.clip((bat.check_soc(soc) - (1.0 - k_T)) / k_T, 0.0, 1.0)


def battery_life(average_current_A, battery=CR2032, temperature_C=23.0, soc0=1.0, *, warn_soc):
    """Life under a constant average current: `years` and `days` to empty, `days_to_warning`.

    Both are on the charge a sustained discharge at `temperature_C` can still deliver
    (`usable_soc`): empty is usable 0, the warning usable `warn_soc` (the product's low-battery
    threshold, which the protocol defines and the caller passes). At room temperature k_T = 1
    and these are plain state of charge 0 and `warn_soc`.
    """
    k_T = bat.capacity_factor(temperature_C, battery)
    empty_s = time_to_soc_s(1.0 - k_T, average_current_A, battery, temperature_C, soc0)
    warn_s = time_to_soc_s(1.0 - k_T + warn_soc * k_T, average_current_A, battery, temperature_C, soc0)
    return {
        "years": empty_s / SECONDS_PER_YEAR,
        "days": empty_s / SECONDS_PER_DAY,
        "days_to_warning": warn_s / SECONDS_PER_DAY,
    }
