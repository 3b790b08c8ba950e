"""One opening: key battery -> contact resistance -> the lock's reservoir capacitor -> the lock's load.

The key is inserted with the reservoir empty. The cell charges it through R0 + R_contact; the
lock's microcontroller is held in reset until the reservoir passes `brownout_V + hysteresis_V`,
then runs its load profile: boot, compute, wait until the reservoir is ready for the motor (with a
time-out), motor, audit. If the reservoir falls below
`brownout_V` while running, the lock resets and the opening fails: one attempt, no retry, since
a real lock would only repeat the same failure at the same temperature.

Circuit, with E = OCV - V1 - R0 * I_key the cell seen through its own key load:
    C dVc/dt = (E - Vc) / (R0 + R_contact) - I_lock
solved exactly per step for piecewise-constant currents, so the step size only sets the time
resolution of the trace, not stability.
"""

from dataclasses import dataclass

import numpy as np

from . import battery as bat
from .params import DEFAULT_LOCK, check_range

PHASE_CHARGING = "charging"


@dataclass(frozen=True)
class OpeningResult:
    """Arrays are shaped like the broadcast inputs (`shape`); traces have a leading time axis.

    Traces run until the last element's opening has ended (completed, reset, or never booted);
    an element that ended earlier keeps its physical trace (the key is still in), but only the
    charge up to its own end is counted in `charge_C` and `energy_J`.
    """

    time_s: np.ndarray  # (n,)
    supply_V: np.ndarray  # (n, *shape): the reservoir, i.e. the lock's supply
    battery_current_A: np.ndarray  # (n, *shape)
    booted: np.ndarray  # bool: the reservoir reached brown-out + hysteresis within max_charge_s
    boot_time_s: np.ndarray  # NaN if never booted
    browned_out: np.ndarray  # bool: reset while running (or never booted)
    reset_time_s: np.ndarray  # NaN if no reset while running
    reset_phase: np.ndarray  # str: phase at reset, "charging" if it never booted, "" if none
    completed: np.ndarray  # bool: every phase ran; the lock opened
    phase_names: tuple  # the lock's phases, in order
    phase_start_s: np.ndarray  # (n_phases, *shape): when each phase began; NaN if it never did
    min_supply_V: np.ndarray  # lowest supply after boot; NaN if never booted
    charge_C: np.ndarray  # charge taken from the cell until the opening ended [C]
    energy_J: np.ndarray  # chemical energy taken from the cell, OCV * charge [J]


def simulate_opening(battery, soc, temperature_C, lock=DEFAULT_LOCK, dt_s=1e-3, contact_ohm=None):
    """Simulate one key insertion and opening; inputs broadcast, see `OpeningResult`.

    battery: `BatteryParams`; soc: state of charge [0..1]; temperature_C: cell temperature [degC]
    (the key is in the lock, so cell and lock share it); contact_ohm overrides `lock.contact_ohm`.
    """
    dt_s = float(check_range("dt_s", dt_s, 1e-6, 0.01, "s"))
    contact_ohm = lock.contact_ohm if contact_ohm is None else contact_ohm
    soc, temperature_C, contact_ohm = np.broadcast_arrays(
        bat.check_soc(soc), bat.check_temperature_C(temperature_C, battery), check_range("contact_ohm", contact_ohm, 0.0, 5.0, "ohm")
    )
    shape = soc.shape
    ocv = bat.ocv_V(soc, battery)
    r0 = bat.r0_ohm(soc, temperature_C, battery)
    r_series = r0 + contact_ohm
    tau_s = r_series * lock.reservoir_F
    decay = np.exp(-dt_s / tau_s)

    names = np.array([p.name for p in lock.phases] + ["done"], dtype=object)
    n_phases = len(lock.phases)
    durations_s = np.array([p.duration_s for p in lock.phases] + [np.inf])
    currents_A = np.array([p.current_A for p in lock.phases] + [0.0])
    until_V = np.array([p.until_V for p in lock.phases] + [np.inf])
    release_V = lock.brownout_V + lock.hysteresis_V
    i_key = lock.key_active_current_A

    worst_s = lock.max_charge_s + durations_s[:-1].sum()
    n_max = int(np.ceil(worst_s / dt_s)) + 2
    supply_V = np.empty((n_max,) + shape)
    current_A = np.empty((n_max,) + shape)
    vc = np.zeros(shape)
    v_pol = bat.initial_polarisation(shape, battery)
    released = np.zeros(shape, dtype=bool)
    reset = np.zeros(shape, dtype=bool)
    settled = np.zeros(shape, dtype=bool)
    phase = np.zeros(shape, dtype=int)
    phase_start_s = np.zeros(shape)
    starts_s = np.full((n_phases,) + shape, np.nan)
    boot_time_s = np.full(shape, np.nan)
    reset_time_s = np.full(shape, np.nan)
    reset_phase = np.full(shape, "", dtype=object)
    min_supply_V = np.full(shape, np.inf)
    charge_C = np.zeros(shape)
    energy_J = np.zeros(shape)

    n = n_max
    for k in range(n_max):
        t_s = k * dt_s
        start = ~released & (vc >= release_V) & (t_s <= lock.max_charge_s)
        boot_time_s[start] = t_s
        phase_start_s[start] = t_s
        released |= start
        starts_s[0] = np.where(start, t_s, starts_s[0])
        # Advance every running element whose phase timed out or whose wait condition is met
        # (at most one phase per step: every phase lasts longer than a step).
        running = released & ~reset & (phase < n_phases)
        advance = running & ((t_s - phase_start_s >= durations_s[phase] - 1e-12) | (vc >= until_V[phase]))
        phase = np.where(advance, phase + 1, phase)
        phase_start_s = np.where(advance, t_s, phase_start_s)
        running &= phase < n_phases
        for p in range(1, n_phases):
            starts_s[p] = np.where(advance & (phase == p), t_s, starts_s[p])
        dropped = running & (vc < lock.brownout_V)
        reset_time_s[dropped] = t_s
        reset_phase[dropped] = names[phase[dropped]]
        reset |= dropped
        # The supply rises from boot while the reservoir charges; its low point counts only once
        # it stops rising, else every opening would report the boot threshold as its minimum.
        tracked = (running & settled) | dropped
        min_supply_V = np.where(tracked, np.minimum(min_supply_V, vc), min_supply_V)
        running &= ~dropped
        active = running | (~released & (t_s <= lock.max_charge_s))
        if not active.any():
            n = k
            break
        i_lock = np.where(running, currents_A[phase], lock.reset_current_A)

        e_V = ocv - bat.polarisation_V(v_pol) - r0 * i_key
        target_V = e_V - i_lock * r_series
        vc_next = target_V + (vc - target_V) * decay
        settled |= running & (vc_next <= vc)
        # Exact charge over the step from the capacitor's balance, so the energy adds up.
        dq_C = lock.reservoir_F * (vc_next - vc) + (i_lock + i_key) * dt_s
        supply_V[k] = vc
        current_A[k] = dq_C / dt_s
        charge_C += np.where(active, dq_C, 0.0)
        energy_J += np.where(active, ocv * dq_C, 0.0)
        v_pol = bat.step_polarisation(v_pol, dq_C / dt_s, dt_s, temperature_C, battery)
        vc = vc_next

    completed = released & ~reset & (phase >= n_phases)
    min_supply_V = np.where(np.isinf(min_supply_V) & released, vc, min_supply_V)
    never = ~released
    reset_phase[never] = PHASE_CHARGING
    min_supply_V = np.where(released, min_supply_V, np.nan)
    return OpeningResult(
        time_s=np.arange(n) * dt_s,
        supply_V=supply_V[:n],
        battery_current_A=current_A[:n],
        booted=released,
        boot_time_s=boot_time_s,
        browned_out=reset | never,
        reset_time_s=reset_time_s,
        reset_phase=reset_phase,
        completed=completed,
        phase_names=tuple(p.name for p in lock.phases),
        phase_start_s=starts_s,
        min_supply_V=min_supply_V,
        charge_C=charge_C,
        energy_J=energy_J,
    )
