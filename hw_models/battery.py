"""Primary lithium cell as an equivalent circuit: OCV(SoC) - R0(T, DoD, I) - two RC pairs.

State of charge `soc` is the remaining charge as a fraction of the nominal capacity at the
reference temperature: it is bookkeeping and does not change when the cell is cooled. Cold acts
in two ways:

* R0 and R1 rise by an Arrhenius factor, which is what makes a cold cell fail under a pulse;
* a *sustained* discharge at temperature T delivers only `capacity_Ah * k_T(T)`. Cold capacity
  loss is kinetic and recoverable, so it is applied to discharges that run at T from full
  (`discharge_curve`), not to a short pulse from a cell that was discharged warm. That is why a key
  at 20 % still boots a cold lock (and then fails under the motor pulse).

Memory: a fast RC pair (seconds) and a slow one (minutes), so a cell that has just carried a
load is still sagging and a quick retry sees it. Above the current its table was measured at,
R0's charge-transfer share follows Butler-Volmer (`r0_ohm(..., current_A=)`). Cells differ:
`sample_cells` draws per-cell capacity and R0 from a vendor's spread; `aged` is a cell after
storage; self-discharge doubles every `self_discharge_doubling_K` and
`self_discharge_per_s_over_day` averages it over a daily temperature swing.

All functions take scalars or arrays (broadcast) and return arrays.
"""

import dataclasses

import numpy as np
import numpy.typing  # noqa: F401  (for the ArrayLike annotation)

from .params import BATTERIES, VENDORS, BatteryParams, check_range

GAS_CONSTANT_J_PER_MOL_K = 8.314462618
ZERO_C_IN_K = 273.15
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_YEAR = 365.25 * 86_400.0
MAX_CURRENT_A = 0.5  # the current law's validity: beyond, mass transport (not modelled) limits


def check_temperature_C(temperature_C, battery):
    return check_range(f"{battery.name} temperature_C", temperature_C, battery.min_temperature_C, battery.max_temperature_C, "degC")


def check_soc(soc):
    return check_range("soc", soc, 0.0, 1.0)


def ocv_V(soc, battery):
    """Open-circuit voltage [V] at state of charge `soc` [0..1], by table interpolation."""
    return np.interp(check_soc(soc), battery.soc_points, battery.ocv_points_V)


def arrhenius_factor(temperature_C, battery):
    """Resistance multiplier exp[(Ea/R)(1/T - 1/T_ref)] vs the reference temperature [-]."""
    temperature_K = check_temperature_C(temperature_C, battery) + ZERO_C_IN_K
    reference_K = battery.reference_temperature_C + ZERO_C_IN_K
    return np.exp(battery.activation_energy_J_per_mol / GAS_CONSTANT_J_PER_MOL_K * (1.0 / temperature_K - 1.0 / reference_K))


def r0_ohm(soc, temperature_C, battery, current_A=None):
    """Series resistance [ohm] at `soc`, `temperature_C` [degC] and, optionally, `current_A` [A].

    Without a current: the table's value (what it was measured at, up to `r0_table_current_A`).
    With one above that, the charge-transfer share f of R0 follows Butler-Volmer: its voltage is
    eta = (2RT/F) asinh(I / (2 I0)), so its resistance eta / I falls as I rises, while the ohmic
    share (1 - f) stays. I0 falls with cold by the same Arrhenius factor the resistance rises by.
    Below the table's current R0 is current-independent: that range (0.2-30 mA) is what the
    datasheets and SWRA349 measured. Valid to `MAX_CURRENT_A`.
    """
    arrhenius = arrhenius_factor(temperature_C, battery)
    table_ohm = np.interp(1.0 - check_soc(soc), battery.dod_points, battery.r0_points_ohm) * arrhenius
    if current_A is None:
        return table_ohm
    current_A = np.maximum(check_range("current_A", current_A, 0.0, MAX_CURRENT_A, "A"), battery.r0_table_current_A)
    exchange_A = battery.exchange_current_A / arrhenius
    table_A = battery.r0_table_current_A

    def per_amp(i_A):  # asinh(I / 2 I0) / I, the charge-transfer resistance up to 2RT/F
        return np.arcsinh(i_A / (2.0 * exchange_A)) / i_A

    share = battery.charge_transfer_fraction
    return table_ohm * ((1.0 - share) + share * per_amp(current_A) / per_amp(table_A))


def r1_ohm(temperature_C, battery):
    """Resistance of the RC pair [ohm]; the same Arrhenius law as R0."""
    return battery.r1_ohm * arrhenius_factor(temperature_C, battery)


def capacity_factor(temperature_C, battery):
    """k_T: fraction of nominal capacity a sustained discharge at `temperature_C` delivers [-]."""
    return np.interp(check_temperature_C(temperature_C, battery), battery.capacity_temperature_points_C, battery.capacity_factor_points)


def capacity_Ah(temperature_C, battery):
    """Capacity of a sustained light-load discharge at `temperature_C` [Ah]."""
    return battery.capacity_Ah * capacity_factor(temperature_C, battery)


def self_discharge_factor(temperature_C, battery):
    """Self-discharge vs the reference temperature; doubles every `self_discharge_doubling_K` [-]."""
    rise_K = check_temperature_C(temperature_C, battery) - battery.reference_temperature_C
    return 2.0 ** (rise_K / battery.self_discharge_doubling_K)


def self_discharge_per_s(temperature_C, battery):
    """Self-discharge as a fraction of nominal capacity per second at `temperature_C` [1/s]."""
    return battery.self_discharge_per_year * self_discharge_factor(temperature_C, battery) / SECONDS_PER_YEAR


def self_discharge_per_s_over_day(mean_C, swing_C, battery):
    """Mean self-discharge [1/s] over a day whose temperature is mean_C + swing_C cos(2 pi t / day).

    `swing_C` [K] is the amplitude (half the day's peak-to-peak). The rate is exponential in
    temperature, so its mean is not the rate at the mean: averaging 2^(a cos x) over x gives the
    modified Bessel function I0(a ln 2), with a = swing_C / doubling_K; always >= the rate at
    mean_C. Both extremes must lie in the cell's temperature range.
    """
    swing_C = check_range("swing_C", swing_C, 0.0, 60.0, "K")
    mean_C = np.asanyarray(mean_C, dtype=float)
    check_temperature_C(mean_C - swing_C, battery)
    check_temperature_C(mean_C + swing_C, battery)
    return self_discharge_per_s(mean_C, battery) * np.i0(swing_C * np.log(2.0) / battery.self_discharge_doubling_K)


def storage_capacity_fraction(years, temperature_C, battery):
    """Fraction of the nominal capacity left after `years` of storage at `temperature_C` [-].

    The self-discharge is the capacity loss, in storage as in use (Rayovac): linear in time.
    """
    years = check_range("years", years, 0.0, 30.0, "year")
    lost = battery.self_discharge_per_year * self_discharge_factor(temperature_C, battery) * years
    return np.clip(1.0 - lost, 0.0, 1.0)


def storage_r0_factor(years, temperature_C, battery):
    """R0 multiplier after `years` of storage at `temperature_C`: linear growth, same law [-]."""
    years = check_range("years", years, 0.0, 30.0, "year")
    return 1.0 + battery.r0_storage_growth_per_year * self_discharge_factor(temperature_C, battery) * years


def aged(battery, years, temperature_C):
    """`battery` after `years` on the shelf at `temperature_C`: a smaller, stiffer fresh cell.

    The lost charge comes off `capacity_Ah` (soc 1 is full of what is left) and the R0 table
    grows by `storage_r0_factor`. Scalars only: one parameter set per storage history.
    """
    fraction = float(storage_capacity_fraction(years, temperature_C, battery))
    growth = float(storage_r0_factor(years, temperature_C, battery))
    return dataclasses.replace(
        battery,
        capacity_Ah=battery.capacity_Ah * max(fraction, 0.01 / battery.capacity_Ah),
        r0_points_ohm=tuple(r * growth for r in battery.r0_points_ohm),
    )


def _cell_set(cells):
    if isinstance(cells, BatteryParams):
        return cells
    if isinstance(cells, str):
        name = cells.upper()
        if name in VENDORS:
            return VENDORS[name]
        if name in BATTERIES:
            return BATTERIES[name]
        raise ValueError(f"unknown cell {cells!r}; known: {', '.join({**BATTERIES, **VENDORS})}")
    raise ValueError(f"cells must be a BatteryParams, a name or a {{cells: weight}} mix, not {type(cells).__name__}")


def sample_cells(cells, n, rng, storage_years=0.0, storage_temperature_C=None):
    """Draw `n` cells of a battery, a vendor, or a vendor mix; per-cell parameters as arrays (n,).

    cells: a `BatteryParams`, a name ("CR2032", "CR2032-BUDGET"; see `params.VENDORS`), or a
    mapping {set or name: weight} for a mix of vendors (weights are normalised).
    rng: a `numpy.random.Generator`.

    Each cell's capacity and R0 are log-normal around its set's (median 1, sigmas
    `capacity_spread` and `r0_spread`), independently. Returns a dict:
    `vendor` (n,) int index into `vendors` (tuple of the parameter sets drawn from),
    `capacity_scale` and `r0_scale` (n,) multipliers of the cell's own set,
    `capacity_Ah` (n,) the cell's capacity and `r0_fresh_ohm` (n,) its fresh R0 at the
    reference temperature (vendor-independent, to compare cells across a mix).
    A cell's R0 at any state is `r0_ohm(soc, T, vendors[vendor]) * r0_scale`.

    `storage_years` (scalar or (n,)) at `storage_temperature_C` (default: the set's reference
    temperature) before use folds shelf ageing into the multipliers: capacity times
    `storage_capacity_fraction`, R0 times `storage_r0_factor` (each cell by its vendor's laws).
    """
    n = int(check_range("n", n, 0, 1e9))
    mix = cells if isinstance(cells, dict) else {cells: 1.0}
    vendors = tuple(_cell_set(c) for c in mix)
    weights = check_range("weight", list(mix.values()), 0.0, np.inf)
    if not weights.sum() > 0:
        raise ValueError("the vendor mix needs a positive weight")
    vendor = rng.choice(len(vendors), size=n, p=weights / weights.sum()) if len(vendors) > 1 else np.zeros(n, dtype=int)
    capacity_sigma = np.array([v.capacity_spread for v in vendors])[vendor]
    r0_sigma = np.array([v.r0_spread for v in vendors])[vendor]
    capacity_scale = np.exp(capacity_sigma * rng.standard_normal(n))
    r0_scale = np.exp(r0_sigma * rng.standard_normal(n))
    years = np.broadcast_to(check_range("storage_years", storage_years, 0.0, 30.0, "year"), (n,))
    if np.any(years > 0):
        for k, v in enumerate(vendors):
            mine = vendor == k
            shelf_C = v.reference_temperature_C if storage_temperature_C is None else storage_temperature_C
            shelf_C = np.broadcast_to(np.asanyarray(shelf_C, dtype=float), (n,))[mine]
            capacity_scale[mine] *= storage_capacity_fraction(years[mine], shelf_C, v)
            r0_scale[mine] *= storage_r0_factor(years[mine], shelf_C, v)
    return {
        "vendor": vendor,
        "vendors": vendors,
        "capacity_scale": capacity_scale,
        "r0_scale": r0_scale,
        "capacity_Ah": np.array([v.capacity_Ah for v in vendors])[vendor] * capacity_scale,
        "r0_fresh_ohm": np.array([v.r0_points_ohm[0] for v in vendors])[vendor] * r0_scale,
    }


def terminal_voltage_V(ocv_V, current_A, r0_ohm, v1_V: "np.typing.ArrayLike" = 0.0):
    """V_terminal = OCV - I*R0 - V1 [V] (discharge current positive)."""
    return np.asanyarray(ocv_V) - np.asanyarray(current_A) * np.asanyarray(r0_ohm) - np.asanyarray(v1_V)


def step_rc(v1_V, current_A, dt_s, r1_ohm, c1_F):
    """Advance the RC pair's voltage [V] by `dt_s` with constant current, exactly (zero-order hold).

    dV1/dt = -V1/(R1 C1) + I/C1; exact for piecewise-constant current, so any dt is stable.
    """
    v1_V, current_A, r1_ohm = np.asanyarray(v1_V), np.asanyarray(current_A), np.asanyarray(r1_ohm)
    target_V = current_A * r1_ohm
    return target_V + (v1_V - target_V) * np.exp(-np.asanyarray(dt_s) / (r1_ohm * c1_F))


def polarisation_pairs(temperature_C, battery):
    """The cell's RC pairs at `temperature_C`: (r_ohm (*shape, n_pairs), c_F (n_pairs,)).

    Two pairs: (r1, c1), seconds, and (r2, c2), minutes; both resistances follow Arrhenius.

    The one interface to the cell's slow polarisation: callers keep a state of shape
    (*shape, n_pairs), start it at `initial_polarisation`, advance it with `step_polarisation`
    and subtract `polarisation_V` from the terminal voltage, whatever number of pairs the
    parameter set has.
    """
    arrhenius = np.asanyarray(arrhenius_factor(temperature_C, battery))[..., None]
    return arrhenius * np.array([battery.r1_ohm, battery.r2_ohm]), np.array([battery.c1_F, battery.c2_F])


def initial_polarisation(shape, battery):
    """A rested cell's polarisation state, zeros of shape (*shape, n_pairs) [V]."""
    return np.zeros(tuple(shape) + (2,))


def step_polarisation(v_V, current_A, dt_s, temperature_C, battery):
    """Advance every RC pair (..., n_pairs) by `dt_s` under constant `current_A` (...), exactly."""
    r_ohm, c_F = polarisation_pairs(temperature_C, battery)
    return step_rc(v_V, np.asanyarray(current_A)[..., None], dt_s, r_ohm, c_F)


def polarisation_V(v_V):
    """The voltage all pairs together subtract from the terminal [V] (...)."""
    return np.asanyarray(v_V).sum(axis=-1)


def discharge_curve(battery, current_A, temperature_C, dt_s=600.0, max_hours=None):
    """Constant-current discharge from full at `temperature_C` until the terminal voltage hits cut-off.

    Vectorised over broadcast `current_A` [A] and `temperature_C` [degC]. The OCV and R0 tables are
    read at the *effective* state of charge 1 - q / (capacity * k_T), so the curve is compressed
    into the capacity available at that temperature. Returns a dict with
    `time_h` (n,), `delivered_Ah` (n, *shape), `voltage_V` (n, *shape) (NaN after cut-off) and
    `capacity_Ah` (*shape), the charge delivered when the cut-off was reached.
    """
    current_A, temperature_C = np.broadcast_arrays(
        check_range("current_A", current_A, 1e-7, 5.0, "A"), check_temperature_C(temperature_C, battery)
    )
    available_Ah = capacity_Ah(temperature_C, battery)
    if max_hours is None:
        max_hours = 1.2 * float(np.max(available_Ah / current_A))
    n = int(np.ceil(max_hours * SECONDS_PER_HOUR / dt_s)) + 1
    shape = current_A.shape
    voltage_V = np.full((n,) + shape, np.nan)
    delivered_Ah = np.zeros((n,) + shape)
    done = np.zeros(shape, dtype=bool)
    capacity_at_cutoff_Ah = np.full(shape, np.nan)
    v_pol_V = initial_polarisation(shape, battery)
    charge_Ah = np.zeros(shape)
    for k in range(n):
        soc_eff = np.clip(1.0 - charge_Ah / available_Ah, 0.0, 1.0)
        v = terminal_voltage_V(ocv_V(soc_eff, battery), current_A, r0_ohm(soc_eff, temperature_C, battery), polarisation_V(v_pol_V))
        newly = ~done & (v <= battery.cutoff_V)
        capacity_at_cutoff_Ah[newly] = charge_Ah[newly]
        done |= newly
        voltage_V[k] = np.where(done, np.nan, v)
        delivered_Ah[k] = charge_Ah
        if done.all():
            voltage_V, delivered_Ah = voltage_V[: k + 1], delivered_Ah[: k + 1]
            break
        v_pol_V = step_polarisation(v_pol_V, current_A, dt_s, temperature_C, battery)
        charge_Ah = np.where(done, charge_Ah, charge_Ah + current_A * dt_s / SECONDS_PER_HOUR)
    time_h = np.arange(voltage_V.shape[0]) * dt_s / SECONDS_PER_HOUR
    return {"time_h": time_h, "delivered_Ah": delivered_Ah, "voltage_V": voltage_V, "capacity_Ah": capacity_at_cutoff_Ah}


def pulsed_capacity_Ah(battery, peak_current_A, duty, temperature_C=None, background_current_A=0.0, n_points=4001):
    """Charge delivered under a pulsed load before the voltage *at the pulse peak* reaches cut-off [Ah].

    Pulses short against the RC pairs' time constants: every pair sits at the average current
    (through the pairs' total resistance), the peak adds I_peak * R0. Evaluated on a fine state-of-charge grid (quasi-static), vectorised over
    `peak_current_A`. This is TI SWRA349's pulse penalty: higher peaks reach cut-off earlier.
    """
    temperature_C = battery.reference_temperature_C if temperature_C is None else temperature_C
    peak_A = check_range("peak_current_A", peak_current_A, 0.0, 5.0, "A")[..., None]
    duty = check_range("duty", duty, 0.0, 1.0)
    available_Ah = capacity_Ah(temperature_C, battery)
    soc_eff = np.linspace(1.0, 0.0, n_points)
    average_A = background_current_A + duty * peak_A
    pairs_ohm = polarisation_pairs(temperature_C, battery)[0].sum(axis=-1)
    v_peak = ocv_V(soc_eff, battery) - average_A * pairs_ohm - (background_current_A + peak_A) * r0_ohm(soc_eff, temperature_C, battery)
    below = v_peak <= battery.cutoff_V
    first = np.where(below.any(axis=-1), below.argmax(axis=-1), n_points - 1)
    return (1.0 - soc_eff[first]) * available_Ah
