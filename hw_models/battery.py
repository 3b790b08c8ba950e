"""Primary lithium cell as an equivalent circuit: OCV(SoC) - R0(T, DoD) - one RC pair.

State of charge `soc` is the remaining charge as a fraction of the nominal capacity at the
reference temperature: it is bookkeeping and does not change when the cell is cooled. Cold acts
in two ways:

* R0 and R1 rise by an Arrhenius factor, which is what makes a cold cell fail under a pulse;
* a *sustained* discharge at temperature T delivers only `capacity_Ah * k_T(T)`. Cold capacity
  loss is kinetic and recoverable, so it is applied to discharges that run at T from full
  (`discharge_curve`), not to a short pulse from a cell that was discharged warm. That is why a key
  at 20 % still boots a cold lock (and then fails under the motor pulse).

All functions take scalars or arrays (broadcast) and return arrays.
"""

import numpy as np
import numpy.typing  # noqa: F401  (for the ArrayLike annotation)

from .params import check_range

GAS_CONSTANT_J_PER_MOL_K = 8.314462618
ZERO_C_IN_K = 273.15
SECONDS_PER_HOUR = 3600.0


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


def r0_ohm(soc, temperature_C, battery):
    """Series resistance [ohm] at `soc` and `temperature_C` [degC]."""
    reference_ohm = np.interp(1.0 - check_soc(soc), battery.dod_points, battery.r0_points_ohm)
    return reference_ohm * arrhenius_factor(temperature_C, battery)


def r1_ohm(temperature_C, battery):
    """Resistance of the RC pair [ohm]; the same Arrhenius law as R0."""
    return battery.r1_ohm * arrhenius_factor(temperature_C, battery)


def capacity_factor(temperature_C, battery):
    """k_T: fraction of nominal capacity a sustained discharge at `temperature_C` delivers [-]."""
    return np.interp(check_temperature_C(temperature_C, battery), battery.capacity_temperature_points_C, battery.capacity_factor_points)


def capacity_Ah(temperature_C, battery):
    """Capacity of a sustained light-load discharge at `temperature_C` [Ah]."""
    return battery.capacity_Ah * capacity_factor(temperature_C, battery)


def self_discharge_per_s(temperature_C, battery):
    """Self-discharge as a fraction of nominal capacity per second; doubles every 10 K [1/s]."""
    per_year = battery.self_discharge_per_year * 2.0 ** (
        (check_temperature_C(temperature_C, battery) - battery.reference_temperature_C) / 10.0
    )
    return per_year / (365.25 * 86_400.0)


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

    The one interface to the cell's slow polarisation: callers keep a state of shape
    (*shape, n_pairs), start it at `initial_polarisation`, advance it with `step_polarisation`
    and subtract `polarisation_V` from the terminal voltage, whatever number of pairs the
    parameter set has.
    """
    r_ohm = np.asanyarray(r1_ohm(temperature_C, battery))[..., None]
    return r_ohm, np.array([battery.c1_F])


def initial_polarisation(shape, battery):
    """A rested cell's polarisation state, zeros of shape (*shape, n_pairs) [V]."""
    return np.zeros(tuple(shape) + (1,))


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

    Pulses short against the RC pair's time constant: the pair sits at the average current, the
    peak adds I_peak * R0. Evaluated on a fine state-of-charge grid (quasi-static), vectorised over
    `peak_current_A`. This is TI SWRA349's pulse penalty: higher peaks reach cut-off earlier.
    """
    temperature_C = battery.reference_temperature_C if temperature_C is None else temperature_C
    peak_A = check_range("peak_current_A", peak_current_A, 0.0, 5.0, "A")[..., None]
    duty = check_range("duty", duty, 0.0, 1.0)
    available_Ah = capacity_Ah(temperature_C, battery)
    soc_eff = np.linspace(1.0, 0.0, n_points)
    average_A = background_current_A + duty * peak_A
    v_peak = (
        ocv_V(soc_eff, battery)
        - average_A * r1_ohm(temperature_C, battery)
        - (background_current_A + peak_A) * r0_ohm(soc_eff, temperature_C, battery)
    )
    below = v_peak <= battery.cutoff_V
    first = np.where(below.any(axis=-1), below.argmax(axis=-1), n_points - 1)
    return (1.0 - soc_eff[first]) * available_Ah
