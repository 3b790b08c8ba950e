"""keylock physics: the key's cell, powering the lock through its contact, heat, drain, retention.

numpy only, vectorised (scalars or broadcast arrays in, arrays out), units in every name. Parameter
sets are frozen dataclasses in `params` with a citation and validity ranges; anything out of range
raises `ValueError` naming the range. Figures and sources: shared/reference/hw_parameters.md.

What the emulator calls
-----------------------
One opening (key inserted in a lock), whole and vectorised::

    r = power.simulate_opening(battery, soc, temperature_C, lock=DEFAULT_LOCK, dt_s=1e-3, load=None)
    r.completed, r.browned_out, r.reset_phase        # did it open; if not, "charging" | "boot" |
                                                     # "compute" | "wait" | "motor" | "audit"
    r.key_reset, r.key_reset_time_s                  # the key's own supply under its 1.7 V brown-out
    r.min_supply_V, r.min_key_supply_V, r.supply_V   # the lock's rail, the key's own supply
    r.charge_C, r.energy_J, r.energy_breakdown_J     # what to debit, and where every joule went

`load` is a `power.TransactionLoad` (wire bytes, SHA-256 compressions, flash bytes, motor). The
emulator runs the same circuit step by step with its transaction::

    path = power.Insertion(battery, soc, temperature_C)
    path.charge()                                    # in-rush until the lock boots
    path.run("receive", seconds, lock.mcu_active_current_A)   # per frame: None | "lock_reset" | "key_reset"
    trial = path.copy(); trial.run("wait", lock.max_wait_s, lock.idle_current_A, until_V="ready")
    trial.run("motor", lock.motor_s, lock.motor_current_A)    # kept only if the lock fires its motor

Debit it (and anything else) from the key's state of charge over virtual time::

    soc = drain.drain(soc, duration_s, battery, temperature_C, key=DEFAULT_KEY_LOAD,
                      openings=1, advertising_fraction=1.0, in_lock_s=0.0, opening_charge_C=r.charge_C)

`in_lock_s` is how much of the interval the key sat in a lock, which powers the lock's idle
current through the contact. The key's low-battery warning threshold is the protocol's (keylock.protocol.codes.LOW_BATTERY_SOC); hw_models imports nothing of ours, so callers pass it as `warn_soc`.

Cells differ, age and remember (`battery`)::

    cells = battery.sample_cells(CR2032, n, rng)            # or "CR2032-BUDGET", or a vendor mix
    cells = battery.sample_cells({"CR2032-ENERGIZER": 0.5, "CR2032-BUDGET": 0.5}, n, rng)
    cells["capacity_Ah"], cells["r0_fresh_ohm"]              # (n,) per cell, absolute
    cells["capacity_scale"], cells["r0_scale"]               # (n,) multipliers of the cell's own set
    cells["vendor"], cells["vendors"]                        # (n,) index into the tuple of sets
    battery.sample_cells(CR2032, n, rng, storage_years=age_y, storage_temperature_C=25.0)  # shelf-aged

Spread is log-normal (median 1) with each set's `capacity_spread` / `r0_spread`; vendors
(`params.VENDORS`, `vendor_by_name`) differ in capacity and in where R0's knee comes. A cell's
R0 is `battery.r0_ohm(soc, T, cells["vendors"][v]) * r0_scale`; `r0_ohm(..., current_A=)` adds
the fall of R0 with current above 30 mA. Storage: `battery.aged(battery, years, T)` (capacity
lost, R0 grown), `storage_capacity_fraction`, `storage_r0_factor`. Self-discharge over a day
that swings by `swing_C` around `mean_C`: `battery.self_discharge_per_s_over_day(mean_C,
swing_C, battery)` (larger than at the mean). Polarisation has two RC pairs (2 s and 600 s):
keep the state from `initial_polarisation` across openings to see a quick retry's sag.

Heat (node 0 the padlock body, node 1 the keyhole and electronics, node 2 the steel under a
flame; parameters from a stated padlock, `ThermalParams.from_padlock`)::

    temps_C = thermal.simulate(heat_W, dt_s, ambient_C, params=DEFAULT_THERMAL, initial_C=None)
    temps_C = thermal.step(temperature_C, heat_W, dt_s, ambient_C, params)   # one step, (..., N_NODES)
    thermal.heating_response(part, heat_W, heating_s, ambient_C)            # the CLI's question
    thermal.safe_heating_s(padlock, heat_W, ambient_C)                      # how long a flame may warm it

The lock refuses when `temps_C[..., thermal.ELECTRONICS] > params.limit_C` (85 degC).

Battery removal from the key::

    retention.retained(removal_s)       # True: clock and pairing survive (< ~60 s)

Modules: `params` (parameter sets), `battery` (OCV, R0(T, DoD, I), RC pairs, capacity, discharge,
spread, ageing),
`power` (one opening), `thermal`, `drain`, `retention`, `fleet` (a site's keys over a year),
`plots` (PNGs).
"""

from . import battery, drain, fleet, params, power, retention, thermal
from .params import (
    BATTERIES,
    CR2,
    CR2032,
    CR2450,
    DEFAULT_KEY_LOAD,
    DEFAULT_LOCK,
    DEFAULT_RETENTION,
    DEFAULT_SITE,
    DEFAULT_THERMAL,
    VENDORS,
    battery_by_name,
    vendor_by_name,
)

__all__ = [
    "BATTERIES",
    "CR2",
    "CR2032",
    "CR2450",
    "DEFAULT_KEY_LOAD",
    "DEFAULT_LOCK",
    "DEFAULT_RETENTION",
    "DEFAULT_SITE",
    "DEFAULT_THERMAL",
    "VENDORS",
    "battery",
    "battery_by_name",
    "drain",
    "fleet",
    "params",
    "power",
    "retention",
    "thermal",
    "vendor_by_name",
]
