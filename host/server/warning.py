"""The low-battery threshold a key's credential carries: physics the firmware cannot run.

A CR2032 that idles fine fails under the lock's load in the cold: by the physics
(hw_models.power.simulate_opening) openings fail below about 14 % at 20 degC but 21 % at
-20 degC, so the fixed 15 % warning (protocol LOW_BATTERY_PERMILLE) comes too late on cold
mornings. At each validation the server finds, for the key's cell at the coldest temperature
expected before the next validation, the lowest state of charge at which an opening still
completes (`failing_permille`: every opening below it fails, the lock reset or never booted,
or the key's own supply reset where the physics models it), adds MARGIN_PERMILLE and signs the
result into the credential (`warn_permille`); the key warns at the higher of it and 15 %.

The search is vectorised: one simulate_opening over a coarse grid of states of charge, one over
the permilles of the step where openings start to complete. It assumes what the physics gives:
a fuller cell never fails where an emptier one opens (tests check it on the whole grid).
Results are cached per cell and temperature (to 0.1 degC), as a site's keys share both.
"""

from functools import lru_cache

import numpy as np

from ...hw_models import battery_by_name, power

COARSE_STEP_PERMILLE = 25
# Above the state of charge where openings start to fail: the fuel gauge's rounding (it reports
# whole permilles, rounded up), and about four days of a key's idle drain (12 uA: 1.3 permille a
# day of a CR2032's 230 mAh), so a key that crosses the failing state of charge between two
# uses has warned at the earlier one. Not the drain to the next validation: the battery
# report's `at_risk` projects that (AccessServer.battery_at_risk).
MARGIN_PERMILLE = 5


def cell_temperature_C(battery, temperature_C: float) -> float:
    """The temperature the cell model is asked at: within the cell's rated range, as the
    emulator clamps a key's cell (a cell colder than its rating is modelled at its limit)."""
    return float(min(max(temperature_C, battery.min_temperature_C), battery.max_temperature_C))


def _fails(result) -> np.ndarray:
    """Openings that failed: not completed, or (where the physics models the key's own supply)
    the key reset mid-transaction."""
    failed = ~np.asarray(result.completed, dtype=bool)
    key_reset = getattr(result, "key_reset", None)
    if key_reset is not None:
        failed |= np.asarray(key_reset, dtype=bool)
    return failed


def opens(battery_name: str, soc, temperature_C: float) -> np.ndarray:
    """Whether an opening completes for each state of charge in `soc` (vectorised)."""
    cell = battery_by_name(battery_name)
    return ~_fails(power.simulate_opening(cell, np.asarray(soc, dtype=float), cell_temperature_C(cell, temperature_C)))


@lru_cache(maxsize=512)
def _failing_permille(battery_name: str, temperature_dC: int) -> int:
    temperature_C = temperature_dC / 10
    coarse = np.arange(0, 1000 + COARSE_STEP_PERMILLE, COARSE_STEP_PERMILLE)
    ok = opens(battery_name, coarse / 1000, temperature_C)
    if not ok[-1]:
        return 1001  # not even a full cell opens at this temperature
    # The first grid point from which every fuller one opens.
    first = int(np.flatnonzero(~ok)[-1]) + 1 if (~ok).any() else 0
    if first == 0:
        return 0
    fine = np.arange(coarse[first - 1] + 1, coarse[first] + 1)
    ok_fine = opens(battery_name, fine / 1000, temperature_C)
    failing = np.flatnonzero(~ok_fine)
    return int(fine[failing[-1] + 1]) if failing.size else int(fine[0])


def failing_permille(battery_name: str, temperature_C: float) -> int:
    """The lowest state of charge [permille] at which an opening completes at `temperature_C`;
    every opening below it fails (1001: none does, even on a full cell). `battery_name` is one
    of hw_models.BATTERIES."""
    return _failing_permille(battery_name, int(round(temperature_C * 10)))


def warn_permille(battery_name: str, temperature_C: float) -> int:
    """The threshold signed into a credential: failing_permille plus MARGIN_PERMILLE, at most 1000."""
    return min(failing_permille(battery_name, temperature_C) + MARGIN_PERMILLE, 1000)
