"""A whole site's keys over a year, vectorised: state of charge per key and day, and the day each
key's battery report would list it (state of charge at or below 15 %).

Each day's debit of a key is the same closed-form sum as `drain.drain`: steady sleep and
advertising current, that day's openings times the charge of one opening at that day's
temperature, hours left in a lock times the lock's idle current, and self-discharge at that
day's temperature. None of it depends on the state of charge, so the whole year is one
`cumsum` over days: no Python loop over keys or days.
"""

from dataclasses import dataclass

import numpy as np

from . import battery as bat
from . import drain as drn
from . import power
from .params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_LOCK, DEFAULT_SITE, check_range


@dataclass(frozen=True)
class Usage:
    """Random draws for a site, shaped (days, keys), so a reference loop can replay them."""

    openings: np.ndarray  # openings per key and day
    in_lock_s: np.ndarray  # seconds a key sat in a lock that day
    soc0: np.ndarray  # (keys,) state of charge on day 0


@dataclass(frozen=True)
class FleetResult:
    day: np.ndarray  # (days + 1,)
    temperature_C: np.ndarray  # (days,) daily mean
    soc: np.ndarray  # (days + 1, keys)
    crossing_day: np.ndarray  # (keys,) first day at or below warn_soc; -1 if not within the run
    usage: Usage
    warn_soc: float  # the low-battery threshold the crossings are counted at


def site_temperature_C(day, site=DEFAULT_SITE):
    """Daily mean temperature [degC] on `day` (0 = 1 January)."""
    phase = 2.0 * np.pi * (np.asanyarray(day, dtype=float) - site.warmest_day) / 365.0
    return site.mean_temperature_C + site.amplitude_C * np.cos(phase)


def draw_usage(n_keys, days, site=DEFAULT_SITE, seed=0):
    """Draw openings, time left in locks and starting charge for `n_keys` keys over `days` days."""
    n_keys = int(check_range("n_keys", n_keys, 1, 10_000_000))
    days = int(check_range("days", days, 1, 36_500, "day"))
    rng = np.random.default_rng(seed)
    rate_per_day = site.median_openings_per_day * rng.lognormal(0.0, site.openings_sigma, n_keys)
    openings = rng.poisson(rate_per_day, size=(days, n_keys))
    left = rng.random((days, n_keys)) < site.left_in_lock_per_day
    in_lock_s = np.where(left, rng.random((days, n_keys)) * site.left_in_lock_max_h * 3600.0, 0.0)
    soc0 = rng.uniform(site.initial_soc_min, site.initial_soc_max, n_keys)
    return Usage(openings=openings, in_lock_s=in_lock_s, soc0=soc0)


def opening_charge_C(temperature_C, battery=CR2032, lock=DEFAULT_LOCK, soc=0.5):
    """Charge one opening takes [C] at each temperature, from `power.simulate_opening`.

    Evaluated on a 5 K grid at mid charge and interpolated: the reservoir's charge dominates and
    varies little with state of charge, and a grid keeps a year of days to one simulation.
    """
    temperature_C = np.asanyarray(temperature_C, dtype=float)
    low = max(battery.min_temperature_C, 5.0 * np.floor(temperature_C.min() / 5.0))
    high = min(battery.max_temperature_C, 5.0 * np.ceil(temperature_C.max() / 5.0))
    grid_C = np.arange(low, high + 2.5, 5.0) if high > low else np.array([low])
    grid_charge_C = power.simulate_opening(battery, soc, grid_C, lock).charge_C
    return np.interp(temperature_C, grid_C, grid_charge_C)


def daily_debit_soc(usage, temperature_C, battery=CR2032, key=DEFAULT_KEY_LOAD, site=DEFAULT_SITE, charge_per_opening_C=None):
    """State of charge each key loses each day, (days, keys)."""
    temperature_C = np.asanyarray(temperature_C, dtype=float)
    if charge_per_opening_C is None:
        charge_per_opening_C = opening_charge_C(temperature_C, battery)
    capacity_C = drn.capacity_C(battery)
    steady_C = (key.sleep_current_A + site.advertising_fraction * key.advertising_current_A) * drn.SECONDS_PER_DAY
    per_day_soc = steady_C / capacity_C + bat.self_discharge_per_s(temperature_C, battery) * drn.SECONDS_PER_DAY
    # In place: at 10,000 keys x 365 days every temporary is 29 MB, and memory traffic is the cost.
    debit = usage.openings * (charge_per_opening_C / capacity_C)[:, None]
    debit += np.multiply(usage.in_lock_s, key.lock_idle_current_A / capacity_C)
    debit += per_day_soc[:, None]
    return debit


def simulate(usage, temperature_C, battery=CR2032, key=DEFAULT_KEY_LOAD, site=DEFAULT_SITE, charge_per_opening_C=None):
    """State of charge (days + 1, keys): the start, then the end of each day; floors at 0."""
    debit = daily_debit_soc(usage, temperature_C, battery, key, site, charge_per_opening_C)
    soc = np.empty((debit.shape[0] + 1, debit.shape[1]))
    soc[0] = usage.soc0
    np.cumsum(debit, axis=0, out=soc[1:])
    np.subtract(usage.soc0, soc[1:], out=soc[1:])
    np.maximum(soc, 0.0, out=soc)
    return soc


def crossing_day(soc, threshold):
    """First day index at or below `threshold` per key; -1 where it never gets there."""
    below = np.asanyarray(soc) <= threshold
    return np.where(below.any(axis=0), below.argmax(axis=0), -1)


def run_site(n_keys=10_000, days=365, site=DEFAULT_SITE, battery=CR2032, key=DEFAULT_KEY_LOAD, seed=0, *, warn_soc):
    """Draw a site's usage and simulate it; see `FleetResult`."""
    usage = draw_usage(n_keys, days, site, seed)
    temperature_C = site_temperature_C(np.arange(days), site)
    soc = simulate(usage, temperature_C, battery, key, site)
    return FleetResult(
        day=np.arange(days + 1),
        temperature_C=temperature_C,
        soc=soc,
        crossing_day=crossing_day(soc, warn_soc),
        usage=usage,
        warn_soc=warn_soc,
    )
