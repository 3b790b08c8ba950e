"""One key in one lock for one cell, in plain floats: `power.Insertion`'s equations and API for
a scalar cell, about twenty times faster.

`power._Circuit` is written for arrays (every element a cell); for one cell each of its numpy
operations costs a microsecond of dispatch on a 0-d array, and the emulator steps a millisecond
at a time (~300 steps an opening). Here the same exact piecewise solution (a linear ramp while
the switch limits, an exponential while it does not, switching at most once per step) runs on
Python floats; what does not change during an insertion (the cell's OCV, R0, the polarisation
pairs' decay over one step) is computed once. tests/hw_models/test_insertion.py checks it step
for step against `power.Insertion`.

The emulator's API, as `power.Insertion`, with scalars::

    path = CellInsertion(battery, soc, temperature_C)
    path.charge()                                   # None | "lock_reset" | "key_reset"
    path.run("receive", seconds, lock.mcu_active_current_A)
    trial = path.copy(); trial.run("wait", lock.max_wait_s, lock.idle_current_A, until_V="ready")

Beyond `power.Insertion` it keeps `min_rail_V` (the rail's lowest level while the lock ran,
whether or not it had settled) and `boot_time_s`, `wait_s`: what a cache needs to know how far
the insertion was from a brown-out or a time-out.
"""

import copy as _copy
import math

import numpy as np

from . import battery as bat
from .params import DEFAULT_LOCK, check_range
from .power import KEY_RESET, LOCK_RESET, PHASE_CHARGING


class _CellCircuit:
    """`power._Circuit` for one cell: the same state and step, in floats (no energy breakdown)."""

    def __init__(self, battery, soc, temperature_C, lock, dt_s, contact_ohm):
        self.lock = lock
        self.dt_s = float(check_range("dt_s", dt_s, 1e-6, 0.01, "s"))
        contact_ohm = lock.contact_ohm if contact_ohm is None else contact_ohm
        soc = float(bat.check_soc(soc))
        temperature_C = float(bat.check_temperature_C(temperature_C, battery))
        self.ocv = float(bat.ocv_V(soc, battery))
        self.r0 = float(bat.r0_ohm(soc, temperature_C, battery))
        self.rc = float(check_range("contact_ohm", contact_ohm, 0.0, 5.0, "ohm"))
        self.r_s = self.r0 + self.rc + lock.switch_ohm
        r_ohm, c_F = bat.polarisation_pairs(temperature_C, battery)
        (self.r1_ohm, self.r2_ohm), (c1_F, c2_F) = (float(r) for r in r_ohm), (float(c) for c in c_F)
        # step_rc's decay over one step: the same expression, evaluated once
        self.decay1 = float(np.exp(-np.asanyarray(self.dt_s) / (self.r1_ohm * c1_F)))
        self.decay2 = float(np.exp(-np.asanyarray(self.dt_s) / (self.r2_ohm * c2_F)))
        self.v1 = self.v2 = 0.0  # the polarisation pairs (a rested cell)
        self.vc = 0.0  # the lock's rail (MCU and motor)
        self.vr = 0.0  # its reservoir, behind the charger and the diode
        self.ready_V = 0.0
        self.charge_C = 0.0
        self.energy_J = 0.0
        self.i_bat = 0.0
        self.v_key_low = math.inf
        self.v_key = self._key_V(self.vc)

    def _source(self):
        e_V = self.ocv - (self.v1 + self.v2)
        return e_V, e_V - self.r0 * self.lock.key_active_current_A

    def _limit_A(self, e_V):
        lock = self.lock
        if lock.key_hold_V <= 0.0:
            return lock.limit_A
        headroom_A = (e_V - lock.key_hold_V) / self.r0 - lock.key_active_current_A
        return min(max(headroom_A, 0.0), lock.limit_A)

    def _key_V(self, vc):
        e_V, ep_V = self._source()
        i_in = min(self._limit_A(e_V), (ep_V - vc) / self.r_s)
        return e_V - self.r0 * (self.lock.key_active_current_A + i_in)

    def key_supply_V(self):
        return self._key_V(self.vc)

    def step(self, mcu_A, motor_A, charger):
        # power._Circuit.step for one cell, operation for operation (inlined: a Python call costs
        # what a dozen of these operations do); only the charge, not the energy parts.
        dt, lock = self.dt_s, self.lock
        c_rail, c_res = lock.mcu_rail_F, lock.reservoir_F
        i_key = lock.key_active_current_A
        r0, r_s = self.r0, self.r_s
        e_V = self.ocv - (self.v1 + self.v2)
        ep_V = e_V - r0 * i_key
        limit_A = lock.limit_A
        if lock.key_hold_V > 0.0:
            limit_A = min(max((e_V - lock.key_hold_V) / r0 - i_key, 0.0), limit_A)
        i_rail = mcu_A + motor_A
        vc, vr = self.vc, self.vr
        merged = min(limit_A, (ep_V - vc) / r_s) < i_rail and vc <= vr and vr > 0.0
        if merged:  # the diode joins rail and reservoir for the step
            v0 = vr0 = (c_rail * vc + c_res * vr) / (c_rail + c_res)
            c_F = c_rail + c_res
        else:
            v0, vr0, c_F = vc, vr, c_rail
        if not merged and charger and vr < self.ready_V and v0 > vr0:
            hold_V = max(lock.brownout_V + lock.ready_margin_V, vr0 + lock.charger_dropout_V)
            i_chg = max(min(limit_A, (ep_V - hold_V) / r_s) - i_rail, 0.0)
        else:
            i_chg = 0.0
        i_lock = i_rail + i_chg
        tau_s = r_s * c_F
        v_star = ep_V - limit_A * r_s  # below it the switch limits; above it it is a resistance
        target_V = ep_V - i_lock * r_s
        limited = v0 < v_star
        if limited:
            t1 = (v_star - v0) * c_F / (limit_A - i_lock) if limit_A > i_lock else math.inf
        elif target_V < v_star:
            t1 = tau_s * math.log(max(v0 - target_V, 1e-300) / max(v_star - target_V, 1e-300))
        else:
            t1 = math.inf
        t1 = min(max(t1, 0.0), dt)
        t2 = dt - t1
        slope = (limit_A - i_lock) / c_F
        if limited:  # a ramp at the limit, then the resistive exponential
            v_mid = v0 + slope * t1
            q = limit_A * t1
            a = math.exp(-t2 / tau_s)
            v1 = target_V - (target_V - v_mid) * a
            q += i_lock * t2 + c_F * (v1 - v_mid)
        else:  # the exponential, then the limit
            a = math.exp(-t1 / tau_s)
            v_mid = target_V - (target_V - v0) * a
            q = i_lock * t1 + c_F * (v_mid - v0)
            v1 = v_mid + slope * t2
            q += limit_A * t2
        vr1 = v1 if merged else vr0 + i_chg * dt / c_res
        q_bat = q + i_key * dt
        self.i_bat = i_bat = q_bat / dt
        self.charge_C += q_bat
        self.energy_J += self.ocv * q_bat
        target1_V, target2_V = i_bat * self.r1_ohm, i_bat * self.r2_ohm
        self.v1 = v1_V = target1_V + (self.v1 - target1_V) * self.decay1
        self.v2 = v2_V = target2_V + (self.v2 - target2_V) * self.decay2
        self.vc, self.vr = v1, vr1
        # The key's supply is lowest at one end of the step (the switch current is monotone in each piece).
        i_end = min(limit_A, (ep_V - v1) / r_s)
        self.v_key_low = min(self.v_key, e_V - r0 * (i_key + i_end))
        # and where the next step starts (_key_V with the new polarisation)
        e_V = self.ocv - (v1_V + v2_V)
        limit_A = lock.limit_A
        if lock.key_hold_V > 0.0:
            limit_A = min(max((e_V - lock.key_hold_V) / r0 - i_key, 0.0), limit_A)
        self.v_key = e_V - r0 * (i_key + min(limit_A, (e_V - r0 * i_key - v1) / r_s))


def _ready_V(circuit, lock):
    """`power._ready_V` for one cell (see there)."""
    e_V, ep_V = circuit._source()
    floor_V = lock.brownout_V + lock.ready_margin_V
    c_F = lock.mcu_rail_F + lock.reservoir_F
    target_V = ep_V - lock.motor_current_A * circuit.r_s
    limit_A = circuit._limit_A(e_V)
    relaxing_V = target_V + (floor_V - target_V) * math.exp(lock.motor_s / (circuit.r_s * c_F)) if target_V < floor_V else 0.0
    limited_V = floor_V + (lock.motor_current_A - limit_A) * lock.motor_s / c_F if limit_A < lock.motor_current_A else 0.0
    return min(max(relaxing_V, limited_V), lock.ready_max_V)


class CellInsertion:
    """`power.Insertion` for one cell: `charge`, `run`, `copy`, and the same attributes as plain
    floats and strings (`outcome` None, "lock_reset" or "key_reset"; `phase`)."""

    def __init__(self, battery, soc, temperature_C, lock=DEFAULT_LOCK, dt_s=1e-3, contact_ohm=None):
        self.lock = lock
        self.circuit = _CellCircuit(battery, soc, temperature_C, lock, dt_s, contact_ohm)
        self.elapsed_s = 0.0
        self.booted = False
        self.outcome = None
        self.phase = PHASE_CHARGING
        self.end_time_s = math.nan
        self.min_supply_V = math.inf  # as power.Insertion: once the rail settled under load, or at a drop
        self.min_key_supply_V = math.inf
        self.min_rail_V = math.inf  # every running step's ends
        self.boot_time_s = math.nan
        self.wait_s = 0.0  # time spent waiting for the reservoir
        self._settled = False
        self._motor_started = False

    @property
    def charge_C(self):
        return self.circuit.charge_C

    @property
    def energy_J(self):
        return self.circuit.energy_J

    @property
    def supply_V(self):
        return self.circuit.vc

    @property
    def reservoir_V(self):
        return self.circuit.vr

    def ready_V(self):
        return self.circuit.ready_V

    def copy(self):
        twin = _copy.copy(self)
        twin.circuit = _copy.copy(self.circuit)
        return twin

    def _step(self, mcu_A, motor_A, running, charging, charger=False):
        lock, c = self.lock, self.circuit
        if running:
            self.min_rail_V = min(self.min_rail_V, c.vc)
            if c.vc < lock.brownout_V:
                self.min_supply_V = min(self.min_supply_V, c.vc)
                self._end(LOCK_RESET)
                running = False
            elif self._settled:
                self.min_supply_V = min(self.min_supply_V, c.vc)
        if not (running or charging):
            return False
        self.min_key_supply_V = min(self.min_key_supply_V, c.v_key)
        if c.v_key < lock.key_brownout_V:
            self._end(KEY_RESET)
            return False
        before_V = c.vc
        if running:
            c.step(mcu_A, motor_A, charger)
            self._settled = self._settled or c.vc <= before_V
            self.min_rail_V = min(self.min_rail_V, c.vc)
        else:
            c.step(lock.reset_current_A, 0.0, False)
        self.min_key_supply_V = min(self.min_key_supply_V, c.v_key_low)
        self.elapsed_s += c.dt_s
        return True

    def _end(self, why):
        if self.outcome is None:
            self.outcome = why
            self.end_time_s = self.elapsed_s

    def charge(self):
        """Charge the lock's rail until it boots (None), the key resets ("key_reset"), or
        `max_charge_s` passes without a boot ("lock_reset", phase "charging")."""
        release_V = self.lock.brownout_V + self.lock.hysteresis_V
        while self.outcome is None and not self.booted:
            if self.circuit.vc >= release_V:
                self.circuit.ready_V = _ready_V(self.circuit, self.lock)
                self.booted = True
                self.boot_time_s = self.elapsed_s
                break
            if self.elapsed_s > self.lock.max_charge_s + 1e-12:
                self._end(LOCK_RESET)
                break
            if not self._step(0.0, 0.0, False, True):
                break
        return self.outcome

    def run(self, name, duration_s, lock_current_A, until_V=None):
        """As `power.Insertion.run`: None, "lock_reset" or "key_reset"."""
        if not 0.0 <= duration_s <= 60.0:
            check_range(f"{name} duration_s", duration_s, 0.0, 60.0, "s")
        if not 0.0 <= lock_current_A <= 1.0:
            check_range(f"{name} lock_current_A", lock_current_A, 0.0, 1.0, "A")
        motor = name == "motor"
        self._motor_started = self._motor_started or motor
        charger = not self._motor_started
        mcu_A, motor_A = (0.0, lock_current_A) if motor else (lock_current_A, 0.0)
        if self.outcome is not None or not self.booted:
            return self.outcome
        self.phase = name
        c = self.circuit
        n_steps = int(math.ceil(duration_s / c.dt_s - 1e-9))
        ready = isinstance(until_V, str)
        limit_V = math.inf if until_V is None or ready else float(until_V)
        start_s = self.elapsed_s
        for _ in range(n_steps):
            if ready:
                if not c.vr < c.ready_V:
                    break
            elif not c.vc < limit_V:
                break
            if not self._step(mcu_A, motor_A, True, False, charger) or self.outcome is not None:
                break
        if name == "wait":
            self.wait_s += self.elapsed_s - start_s
        return self.outcome
