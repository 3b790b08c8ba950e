"""One opening: key cell -> the key's current-limited switch -> contact -> the lock's rail, and
the lock's reservoir behind a charger and an ideal diode.

The key is inserted with the lock empty. The key closes a current-limited switch (a load
switch's soft-start limit, `lock.limit_A`) between its cell and the contact, lowering the limit
so its own supply stays at `key_hold_V` (input-voltage regulation): the in-rush is at most
`limit_A` instead of a 0.3 A spike. It charges only the lock's small MCU rail (`mcu_rail_F`);
the MCU is held in reset until the rail passes `brownout_V + hysteresis_V`, then runs its load
profile (`load_phases`: boot, the frame exchange and its crypto, wait, motor, flash writes) and
resets if the rail falls below `brownout_V`.

The reservoir (`reservoir_F`) is charged by the lock from boot until the motor, only as far as
this cell needs (`_ready_V`, from the sag the lock measures): a fresh cell at room temperature
feeds the motor through the switch directly and the reservoir stays empty; a weak or cold one
gets it charged first (the wait phase) and, when the motor pulls the rail down to it, the diode
joins the two. Whatever is left in rail and reservoir when the key is pulled is lost: that dead
charge is what made the old 10 mF-on-the-rail design cost ~100 mJ an opening.

The key's own microcontroller sits on the same cell, before the switch:
    V_key = OCV - V_polarisation - R0 * (I_key + I_contact)
and resets below `key_brownout_V`; the opening ends there (the key's switch opens with it). When
the transaction ends the key opens its switch, so nothing flows after the last phase.

Circuit, with E' = OCV - V_pol - R0 * I_key the cell seen through the key's own load and
R_s = R0 + R_contact + R_switch:
    I_in = min(I_limit, (E' - Vc) / R_s),   C dVc/dt = I_in - I_lock
with C the rail (or rail + reservoir while the diode conducts) and I_lock the MCU, the motor and
the charger, solved exactly per step for piecewise-constant loads (a linear ramp while limited,
an exponential while not, switching at most once per step), so the step size only sets the time
resolution of the trace, not stability. The same exact solution integrates I_in, I_in^2 and Vc
over the step, which is what the energy breakdown is made of: every joule the cell's chemistry
gives (OCV * charge) is either still in the rail or the reservoir, lost in R0, the polarisation,
the contact, the key's switch or the reservoir's charger and diode, or used by the motor, the
lock's electronics or the key's own.

`Insertion` is the same kernel one step sequence at a time (the emulator's API: charge, one `run`
per frame exchange, a `copy` to try the motor); `simulate_opening` runs whole openings,
vectorised over cells, charges and temperatures. `insertion.CellInsertion` is `Insertion` for one
cell in plain floats (what the emulator runs; tested equal to it).
"""

import copy as _copy
from dataclasses import dataclass

import numpy as np

from . import battery as bat
from .params import DEFAULT_LOCK, LoadPhase, check_range

PHASE_CHARGING = "charging"
LOCK_RESET = "lock_reset"
KEY_RESET = "key_reset"
# Where the cell's chemical energy goes; they sum to OCV * charge.
PARTS = ("reservoir_left", "cell_R0", "cell_polarisation", "contact", "limiter", "reservoir_switch", "motor", "lock_compute", "key")

UART_BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop


@dataclass(frozen=True)
class TransactionLoad:
    """What one key-lock transaction asks of the lock, as run (not a fixed profile)."""

    wire_bytes: int = 300  # both directions; a granted opening is ~255-300 bytes
    baud: int = 57600
    sha256_compressions: int = 40  # HMAC-SHA256 blocks: session keys, frame MACs, the credential's MAC
    flash_bytes_written: int = 96  # audit record and counters
    motor: bool = True  # granted: the lock fires its motor

    def __post_init__(self):
        check_range("TransactionLoad.wire_bytes", self.wire_bytes, 0, 1e6, "B")
        check_range("TransactionLoad.baud", self.baud, 300, 1e7, "bit/s")
        check_range("TransactionLoad.sha256_compressions", self.sha256_compressions, 0, 1e6)
        check_range("TransactionLoad.flash_bytes_written", self.flash_bytes_written, 0, 1e6, "B")


DEFAULT_LOAD = TransactionLoad()


def wire_time_s(n_bytes, baud=DEFAULT_LOAD.baud):
    """Time on the contact link for `n_bytes` at `baud`, 8N1 [s]."""
    return n_bytes * UART_BITS_PER_BYTE / baud


def load_phases(load=DEFAULT_LOAD, lock=DEFAULT_LOCK):
    """The lock's phases for `load`: boot, exchange (wire + crypto), [wait, motor], audit (flash).

    Per-item costs are `lock`'s cited parameters: the MCU's active current while it receives and
    hashes, its time per SHA-256 compression, and flash time per 32-bit word written.
    """
    exchange_s = wire_time_s(load.wire_bytes, load.baud) + load.sha256_compressions * lock.sha256_compression_s
    flash_s = -(-load.flash_bytes_written // 4) * lock.flash_word_write_s
    phases = [
        LoadPhase("boot", lock.boot_s, lock.boot_current_A),
        LoadPhase("compute", max(exchange_s, 1e-4), lock.mcu_active_current_A),
    ]
    if load.motor:
        phases += [
            LoadPhase("wait", lock.max_wait_s, lock.idle_current_A, until_V=lock.ready_max_V),
            LoadPhase("motor", lock.motor_s, lock.motor_current_A),
        ]
    phases.append(LoadPhase("audit", max(flash_s, 1e-4), lock.mcu_active_current_A))
    return tuple(phases)


def reservoir_for_motor_F(lock=DEFAULT_LOCK, cell_A=0.0, droop_V=None):
    """Capacitance that carries the motor pulse [F]: C = (I_motor - I_cell) * t_motor / droop.

    `cell_A` is what the cell still gives through the switch during the pulse, `droop_V` how far
    the reservoir may fall: from `ready_max_V` to the brown-out plus `ready_margin_V` by default.
    With cell_A = 0 (a weak or cold cell gives next to nothing at the floor) this is the size
    the default lock has.
    """
    droop_V = lock.ready_max_V - lock.brownout_V - lock.ready_margin_V if droop_V is None else droop_V
    return max(lock.motor_current_A - cell_A, 0.0) * lock.motor_s / droop_V


class _Circuit:
    """The one circuit kernel: cell, key, switch, contact and reservoir, any array shape.

    `step` advances every `active` element by `dt_s` under piecewise-constant lock loads and adds
    the step's charge and energy parts; inactive elements (their opening ended) are frozen: the
    key's switch is open.
    """

    def __init__(self, battery, soc, temperature_C, lock, dt_s, contact_ohm):
        self.battery, self.lock = battery, lock
        self.dt_s = float(check_range("dt_s", dt_s, 1e-6, 0.01, "s"))
        contact_ohm = lock.contact_ohm if contact_ohm is None else contact_ohm
        soc, temperature_C, contact_ohm = np.broadcast_arrays(
            bat.check_soc(soc),
            bat.check_temperature_C(temperature_C, battery),
            check_range("contact_ohm", contact_ohm, 0.0, 5.0, "ohm"),
        )
        self.shape = soc.shape
        self.temperature_C = temperature_C
        self.ocv = bat.ocv_V(soc, battery)
        self.r0 = bat.r0_ohm(soc, temperature_C, battery)
        self.rc = np.array(contact_ohm, dtype=float)
        self.r_s = self.r0 + self.rc + lock.switch_ohm
        self.vc = np.zeros(self.shape)  # the lock's rail (MCU and motor)
        self.vr = np.zeros(self.shape)  # its reservoir, behind the charger and the diode
        self.ready_V = np.zeros(self.shape)  # the charger's target (`_ready_V`, set at boot)
        self.v_pol = bat.initial_polarisation(self.shape, battery)
        self.charge_C = np.zeros(self.shape)
        self.energy_J = np.zeros(self.shape)
        self.parts_J = {p: np.zeros(self.shape) for p in PARTS if p != "reservoir_left"}
        self.i_bat = np.zeros(self.shape)  # mean battery current over the last step
        self.v_key = self._key_V(self.vc)  # the key's supply at the start of the next step

    def _source(self):
        e_V = self.ocv - bat.polarisation_V(self.v_pol)
        i_key = self.lock.key_active_current_A
        return e_V, e_V - self.r0 * i_key

    def _limit_A(self, e_V):
        """The switch's limit now: `limit_A`, lowered so the key's own supply stays at
        `key_hold_V` (input-voltage regulation); 0 when the key alone pulls the cell below it."""
        lock = self.lock
        if lock.key_hold_V <= 0.0:
            return np.full(self.shape, lock.limit_A)
        headroom_A = (e_V - lock.key_hold_V) / self.r0 - lock.key_active_current_A
        return np.clip(headroom_A, 0.0, lock.limit_A)

    def _key_V(self, vc):
        e_V, ep_V = self._source()
        i_in = np.minimum(self._limit_A(e_V), (ep_V - vc) / self.r_s)
        return e_V - self.r0 * (self.lock.key_active_current_A + i_in)

    def key_supply_V(self):
        """The key's supply at this instant, with the current the switch passes now [V]."""
        return self._key_V(self.vc)

    def step(self, mcu_A, motor_A, active, charger=False):
        """Advance by one step: the MCU and the motor on the lock's rail, and with `charger` the
        lock charging its reservoir from the rail (until `ready_V`, set by the caller)."""
        dt, lock = self.dt_s, self.lock
        c_rail, c_res = lock.mcu_rail_F, lock.reservoir_F
        i_key = lock.key_active_current_A
        on = np.asarray(active, dtype=bool)
        e_V, ep_V = self._source()
        limit_A = self._limit_A(e_V)
        i_rail = np.asarray(mcu_A) + np.asarray(motor_A)
        r_s = self.r_s
        # The reservoir backs the rail through an ideal diode: when the load pulls the rail down
        # to the reservoir, the two are one node for the step (charge shared first if the rail
        # dipped below it within the last step: that loss is the diode's).
        falling = np.minimum(limit_A, (ep_V - self.vc) / r_s) < i_rail
        merged = on & falling & (self.vc <= self.vr) & (self.vr > 0.0)
        shared_V = (c_rail * self.vc + c_res * self.vr) / (c_rail + c_res)
        share_J = np.where(merged, c_rail * c_res / (c_rail + c_res) * (self.vr - self.vc) ** 2 / 2, 0.0)
        v0 = np.where(merged, shared_V, self.vc)
        vr0 = np.where(merged, shared_V, self.vr)
        # The charger takes what the switch passes above the rail's load, keeping the rail at
        # its floor or just above the reservoir, whichever is higher.
        hold_V = np.maximum(lock.brownout_V + lock.ready_margin_V, vr0 + lock.charger_dropout_V)
        spare_A = np.minimum(limit_A, (ep_V - hold_V) / r_s) - i_rail
        charging = on & ~merged & np.asarray(charger, dtype=bool) & (self.vr < self.ready_V) & (v0 > vr0)
        i_chg = np.where(charging, np.maximum(spare_A, 0.0), 0.0)
        c_F = np.where(merged, c_rail + c_res, c_rail)
        i_lock = i_rail + i_chg
        tau_s = r_s * c_F
        v_star = ep_V - limit_A * r_s  # below it the switch limits; above it it is a resistance
        target_V = ep_V - i_lock * r_s  # where an unlimited charge would settle
        limited = v0 < v_star
        rising = limit_A > i_lock
        with np.errstate(divide="ignore", invalid="ignore"):
            t_up = np.where(rising, (v_star - v0) * c_F / (limit_A - i_lock), np.inf)
            t_down = np.where(
                target_V < v_star, tau_s * np.log(np.maximum(v0 - target_V, 1e-300) / np.maximum(v_star - target_V, 1e-300)), np.inf
            )
        t1 = np.clip(np.where(limited, t_up, t_down), 0.0, dt)
        t2 = dt - t1

        def limited_piece(v, t):
            slope = (limit_A - i_lock) / c_F
            return v + slope * t, limit_A * t, limit_A**2 * t, v * t + slope * t * t / 2

        def resistive_piece(v, t):
            a = np.exp(-t / tau_s)
            d = target_V - v
            v_end = target_V - d * a
            q = i_lock * t + c_F * (v_end - v)
            i2 = i_lock**2 * t + 2 * i_lock * c_F * d * (1 - a) + (d / r_s) ** 2 * tau_s / 2 * (1 - a * a)
            return v_end, q, i2, target_V * t - d * tau_s * (1 - a)

        first_l, first_r = limited_piece(v0, t1), resistive_piece(v0, t1)
        v_mid, q, i2, vint = (np.where(limited, a, b) for a, b in zip(first_l, first_r, strict=True))
        second_l, second_r = limited_piece(v_mid, t2), resistive_piece(v_mid, t2)
        v1, q2, i22, vint2 = (np.where(limited, b, a) for a, b in zip(second_l, second_r, strict=True))
        q, i2, vint = q + q2, i2 + i22, vint + vint2
        vr1 = np.where(merged, v1, vr0 + i_chg * dt / c_res)

        q_bat = q + i_key * dt
        self.i_bat = np.where(on, q_bat / dt, 0.0)
        self.charge_C += np.where(on, q_bat, 0.0)
        self.energy_J += np.where(on, self.ocv * q_bat, 0.0)
        v_pol_V = bat.polarisation_V(self.v_pol)
        parts = {
            "cell_R0": self.r0 * (i_key**2 * dt + 2 * i_key * q + i2),
            "cell_polarisation": v_pol_V * q_bat,
            "contact": self.rc * i2,
            "limiter": ep_V * q - (self.r0 + self.rc) * i2 - c_F * (v1 * v1 - v0 * v0) / 2 - i_lock * vint,
            "reservoir_switch": share_J + i_chg * (vint - dt * (vr0 + vr1) / 2),
            "motor": np.asarray(motor_A) * vint,
            "lock_compute": np.asarray(mcu_A) * vint,
            "key": i_key * (e_V * dt - self.r0 * (i_key * dt + q)),
        }
        for name, e_J in parts.items():
            self.parts_J[name] += np.where(on, e_J, 0.0)
        self.v_pol = np.where(
            on[..., None], bat.step_polarisation(self.v_pol, q_bat / dt, dt, self.temperature_C, self.battery), self.v_pol
        )
        self.vc = np.where(on, v1, self.vc)
        self.vr = np.where(on, vr1, self.vr)
        # The key's supply is lowest at one end of the step (the switch current is monotone in each piece).
        i_end = np.minimum(limit_A, (ep_V - v1) / r_s)
        v_key_end = e_V - self.r0 * (i_key + i_end)
        self.v_key_low = np.where(on, np.minimum(self.v_key, v_key_end), np.inf)
        self.v_key = np.where(on, self._key_V(self.vc), self.v_key)

    def breakdown_J(self):
        """Energy parts so far [J] (dict of arrays); they sum to `energy_J`."""
        parts = {"reservoir_left": (self.lock.mcu_rail_F * self.vc**2 + self.lock.reservoir_F * self.vr**2) / 2}
        parts.update({name: e.copy() for name, e in self.parts_J.items()})
        return {name: parts[name] for name in PARTS}


class Insertion:
    """One key in one lock, advanced phase by phase: the emulator's view of the power path.

    Shares `_Circuit` (the one set of equations) with `simulate_opening`; inputs broadcast like it,
    but it is meant for a scalar cell: every call returns None (still running) or why it ended,
    "lock_reset" or "key_reset" (an array of those for array inputs). Once ended it stays ended
    and further calls change nothing. The emulator calls `charge()` on insertion, one `run` per
    frame exchange (wire and compute time at the compute current), and at the lock's decision
    tries wait + motor + audit on a `copy()`, which it keeps only if the lock grants.
    """

    def __init__(self, battery, soc, temperature_C, lock=DEFAULT_LOCK, dt_s=1e-3, contact_ohm=None):
        self.lock = lock
        self.circuit = _Circuit(battery, soc, temperature_C, lock, dt_s, contact_ohm)
        shape = self.circuit.shape
        self.elapsed_s = 0.0
        self.booted = np.zeros(shape, dtype=bool)
        self.outcome = np.full(shape, None, dtype=object)
        self.phase = np.full(shape, PHASE_CHARGING, dtype=object)  # the phase it ended in, or is in
        self.end_time_s = np.full(shape, np.nan)
        self.min_supply_V = np.full(shape, np.inf)
        self.min_key_supply_V = np.full(shape, np.inf)
        self._settled = np.zeros(shape, dtype=bool)
        self._motor_started = False  # the lock charges its reservoir from boot until the motor

    # --- totals ------------------------------------------------------------------------------

    @property
    def charge_C(self):
        return self.circuit.charge_C

    @property
    def energy_J(self):
        return self.circuit.energy_J

    @property
    def supply_V(self):
        return self.circuit.vc

    def breakdown_J(self):
        """Where the energy went so far (PARTS -> [J]); the parts sum to `energy_J`."""
        return self.circuit.breakdown_J()

    @property
    def reservoir_V(self):
        return self.circuit.vr

    def ready_V(self):
        """The reservoir level this cell needs before the motor, set at boot (see `_ready_V`) [V]."""
        return self.circuit.ready_V

    def copy(self):
        return _copy.deepcopy(self)

    # --- steps -------------------------------------------------------------------------------

    def _result(self):
        return self.outcome[()] if self.outcome.ndim == 0 else self.outcome.copy()

    def _step(self, mcu_A, motor_A, running, charging, charger=False):
        """One step for elements `running` (booted) or `charging`; checks both resets first."""
        lock, c = self.lock, self.circuit
        dropped = running & (c.vc < lock.brownout_V)
        tracked = (running & self._settled) | dropped
        self.min_supply_V = np.where(tracked, np.minimum(self.min_supply_V, c.vc), self.min_supply_V)
        self._end(dropped, LOCK_RESET)
        running = running & ~dropped
        active = running | charging
        lost = active & (c.v_key < lock.key_brownout_V)
        self.min_key_supply_V = np.where(active, np.minimum(self.min_key_supply_V, c.v_key), self.min_key_supply_V)
        self._end(lost, KEY_RESET)
        running, active = running & ~lost, active & ~lost
        if not active.any():
            return False
        before_V = c.vc
        c.step(np.where(running, mcu_A, lock.reset_current_A), np.where(running, motor_A, 0.0), active, running & charger)
        self.min_key_supply_V = np.where(active, np.minimum(self.min_key_supply_V, c.v_key_low), self.min_key_supply_V)
        self._settled |= running & (c.vc <= before_V)
        self.elapsed_s += c.dt_s
        return True

    def _end(self, mask, why):
        mask = mask & (self.outcome == None)  # noqa: E711  (an object array: elementwise)
        self.outcome[mask] = why
        self.end_time_s[mask] = self.elapsed_s

    def charge(self):
        """Charge the reservoir through the switch until the lock boots (None), the key resets
        ("key_reset"), or `max_charge_s` passes without a boot ("lock_reset", phase "charging")."""
        release_V = self.lock.brownout_V + self.lock.hysteresis_V
        while True:
            waiting = (self.outcome == None) & ~self.booted  # noqa: E711
            up = waiting & (self.circuit.vc >= release_V)
            if up.any():
                self.circuit.ready_V = np.where(up, _ready_V(self.circuit, self.lock), self.circuit.ready_V)
            self.booted |= up
            waiting &= ~up
            if not waiting.any():
                break
            if self.elapsed_s > self.lock.max_charge_s + 1e-12:
                self._end(waiting, LOCK_RESET)
                break
            if not self._step(0.0, 0.0, np.zeros_like(waiting), waiting):
                break
        return self._result()

    def run(self, name, duration_s, lock_current_A, until_V=None):
        """Run the booted lock at `lock_current_A` [A] for `duration_s` [s], or until its supply
        reaches `until_V` [V] ("ready": until the reservoir holds this cell's `ready_V()`); "motor"
        is the motor's current. Before the first "motor" run the lock also charges its reservoir.
        Returns None, "lock_reset" or "key_reset"."""
        check_range(f"{name} duration_s", duration_s, 0.0, 60.0, "s")
        check_range(f"{name} lock_current_A", lock_current_A, 0.0, 1.0, "A")
        motor = name == "motor"
        self._motor_started |= motor
        charger = not self._motor_started
        mcu_A, motor_A = (0.0, lock_current_A) if motor else (lock_current_A, 0.0)
        live = (self.outcome == None) & self.booted  # noqa: E711
        self.phase = np.where(live, name, self.phase)
        n_steps = int(np.ceil(duration_s / self.circuit.dt_s - 1e-9))
        for _ in range(n_steps):
            level_V = self.circuit.vr if isinstance(until_V, str) else self.circuit.vc
            target_V = self.circuit.ready_V if isinstance(until_V, str) else (np.inf if until_V is None else float(until_V))
            running = (self.outcome == None) & self.booted & (level_V < target_V)  # noqa: E711
            if not running.any() or not self._step(mcu_A, motor_A, running, np.zeros_like(running), charger):
                break
        return self._result()


@dataclass(frozen=True)
class OpeningResult:
    """Arrays are shaped like the broadcast inputs (`shape`); traces have a leading time axis.

    Traces run until the last element's opening has ended (completed, reset, key reset, or never
    booted); an element whose opening ended earlier is frozen from then on (the key opened its
    switch), and only its charge up to its own end is counted.
    """

    time_s: np.ndarray  # (n,)
    supply_V: np.ndarray  # (n, *shape): the lock's rail, i.e. its MCU's and motor's supply
    key_supply_V: np.ndarray  # (n, *shape): the key's own supply, the cell's terminal
    battery_current_A: np.ndarray  # (n, *shape): mean over each step
    booted: np.ndarray  # bool: the rail reached brown-out + hysteresis within max_charge_s
    boot_time_s: np.ndarray  # NaN if never booted
    browned_out: np.ndarray  # bool: the lock reset while running, never booted, or the key reset
    reset_time_s: np.ndarray  # NaN if the lock did not reset while running (or the key reset first)
    reset_phase: np.ndarray  # str: the lock's phase when it (or the key) reset, "charging" before boot, "" if none
    key_reset: np.ndarray  # bool: the key's supply fell below key_brownout_V; the opening ended there
    key_reset_time_s: np.ndarray  # NaN if no key reset
    completed: np.ndarray  # bool: every phase ran; the lock opened
    phase_names: tuple  # the lock's phases, in order
    phase_start_s: np.ndarray  # (n_phases, *shape): when each phase began; NaN if it never did
    min_supply_V: np.ndarray  # lowest supply after boot; NaN if never booted
    min_key_supply_V: np.ndarray  # lowest key supply during the opening
    charge_C: np.ndarray  # charge taken from the cell until the opening ended [C]
    energy_J: np.ndarray  # chemical energy taken from the cell, OCV * charge [J]
    energy_breakdown_J: dict  # PARTS -> arrays [J]; they sum to energy_J


def simulate_opening(battery, soc, temperature_C, lock=DEFAULT_LOCK, dt_s=1e-3, contact_ohm=None, load=None):
    """Simulate one key insertion and opening; inputs broadcast, see `OpeningResult`.

    battery: `BatteryParams`; soc: state of charge [0..1]; temperature_C: cell temperature [degC]
    (the key is in the lock, so cell and lock share it); contact_ohm overrides `lock.contact_ohm`;
    load: the `TransactionLoad` run (default: a typical granted opening).
    """
    circuit = _Circuit(battery, soc, temperature_C, lock, dt_s, contact_ohm)
    dt_s, shape = circuit.dt_s, circuit.shape
    phases = load_phases(DEFAULT_LOAD if load is None else load, lock)
    names = np.array([p.name for p in phases] + ["done"], dtype=object)
    n_phases = len(phases)
    durations_s = np.array([p.duration_s for p in phases] + [np.inf])
    currents_A = np.array([p.current_A for p in phases] + [0.0])
    is_motor = np.array([p.name == "motor" for p in phases] + [False])
    # The lock charges its reservoir from boot until the motor (never, if the motor does not run).
    motor_at = [p.name for p in phases].index("motor") if "motor" in [p.name for p in phases] else 0
    charger_on = np.arange(n_phases + 1) < motor_at
    waits = np.array([np.isfinite(p.until_V) for p in phases] + [False])
    release_V = lock.brownout_V + lock.hysteresis_V

    worst_s = lock.max_charge_s + durations_s[:-1].sum()
    n_max = int(np.ceil(worst_s / dt_s)) + 2
    supply_V = np.empty((n_max,) + shape)
    key_V = np.empty((n_max,) + shape)
    current_A = np.empty((n_max,) + shape)
    released = np.zeros(shape, dtype=bool)
    reset = np.zeros(shape, dtype=bool)
    key_reset = np.zeros(shape, dtype=bool)
    settled = np.zeros(shape, dtype=bool)
    phase = np.zeros(shape, dtype=int)
    phase_start_s = np.zeros(shape)
    starts_s = np.full((n_phases,) + shape, np.nan)
    boot_time_s = np.full(shape, np.nan)
    reset_time_s = np.full(shape, np.nan)
    key_reset_time_s = np.full(shape, np.nan)
    reset_phase = np.full(shape, "", dtype=object)
    min_supply_V = np.full(shape, np.inf)
    min_key_V = np.full(shape, np.inf)

    n = n_max
    for k in range(n_max):
        t_s = k * dt_s
        vc = circuit.vc
        start = ~released & ~key_reset & (vc >= release_V) & (t_s <= lock.max_charge_s)
        if start.any():
            circuit.ready_V = np.where(start, _ready_V(circuit, lock), circuit.ready_V)
        boot_time_s[start] = t_s
        phase_start_s[start] = t_s
        released |= start
        starts_s[0] = np.where(start, t_s, starts_s[0])
        # Advance every running element whose phase timed out or whose wait condition is met
        # (at most one phase per step: every phase lasts longer than a step).
        running = released & ~reset & ~key_reset & (phase < n_phases)
        advance = running & ((t_s - phase_start_s >= durations_s[phase] - 1e-12) | (waits[phase] & (circuit.vr >= circuit.ready_V)))
        phase = np.where(advance, phase + 1, phase)
        phase_start_s = np.where(advance, t_s, phase_start_s)
        running &= phase < n_phases
        for p in range(1, n_phases):
            starts_s[p] = np.where(advance & (phase == p), t_s, starts_s[p])
        # A wait whose reservoir is already ready lasts no time: the motor starts in the same step.
        ready = advance & waits[phase] & (circuit.vr >= circuit.ready_V)
        if ready.any():
            phase = np.where(ready, phase + 1, phase)
            for p in range(1, n_phases):
                starts_s[p] = np.where(ready & (phase == p), t_s, starts_s[p])
        running &= phase < n_phases
        dropped = running & (vc < lock.brownout_V)
        reset_time_s[dropped] = t_s
        reset_phase[dropped] = names[phase[dropped]]
        reset |= dropped
        # The supply rises from boot while the reservoir charges; its low point counts only once
        # it stops rising, else every opening would report the boot threshold as its minimum.
        tracked = (running & settled) | dropped
        min_supply_V = np.where(tracked, np.minimum(min_supply_V, vc), min_supply_V)
        running &= ~dropped
        charging = ~released & ~key_reset & (t_s <= lock.max_charge_s)
        active = running | charging
        # The key's supply with the current this step starts with: below its brown-out it resets.
        v_key_now = circuit.v_key
        lost = active & (v_key_now < lock.key_brownout_V)
        key_reset_time_s[lost] = t_s
        reset_phase[lost] = np.where(released[lost], names[phase[lost]], PHASE_CHARGING)
        key_reset |= lost
        min_key_V = np.where(active, np.minimum(min_key_V, v_key_now), min_key_V)
        active &= ~lost
        running &= ~lost
        if not active.any():
            supply_V[k], key_V[k], current_A[k] = vc, v_key_now, 0.0
            n = k + 1
            break
        mcu_A = np.where(running & ~is_motor[phase], currents_A[phase], np.where(running, 0.0, lock.reset_current_A))
        motor_A = np.where(running & is_motor[phase], currents_A[phase], 0.0)
        supply_V[k] = vc
        key_V[k] = v_key_now
        circuit.step(mcu_A, motor_A, active, running & charger_on[phase])
        current_A[k] = circuit.i_bat
        min_key_V = np.where(active, np.minimum(min_key_V, circuit.v_key_low), min_key_V)
        settled |= running & (circuit.vc <= vc)

    completed = released & ~reset & ~key_reset & (phase >= n_phases)
    min_supply_V = np.where(np.isinf(min_supply_V) & released, circuit.vc, min_supply_V)
    never = ~released & ~key_reset
    reset_phase[never] = PHASE_CHARGING
    min_supply_V = np.where(released, min_supply_V, np.nan)
    return OpeningResult(
        time_s=np.arange(n) * dt_s,
        supply_V=supply_V[:n],
        key_supply_V=key_V[:n],
        battery_current_A=current_A[:n],
        booted=released,
        boot_time_s=boot_time_s,
        browned_out=reset | never | key_reset,
        reset_time_s=reset_time_s,
        reset_phase=reset_phase,
        key_reset=key_reset,
        key_reset_time_s=key_reset_time_s,
        completed=completed,
        phase_names=tuple(p.name for p in phases),
        phase_start_s=starts_s,
        min_supply_V=min_supply_V,
        min_key_supply_V=min_key_V,
        charge_C=circuit.charge_C,
        energy_J=circuit.energy_J,
        energy_breakdown_J=circuit.breakdown_J(),
    )


def _ready_V(circuit, lock):
    """The reservoir level this cell needs before the motor fires [V] (the lock's adaptive ready level).

    The lock knows its source from the sag it measured under its own load (open-circuit level E'
    and series resistance R_s; here the model's present values). The rail must stay above
    V_floor = brown-out + margin through the pulse. If the cell alone holds it there
    (T = E' - I_motor * R_s >= V_floor and the switch passes I_motor) the reservoir stays empty: 0.
    Otherwise rail and reservoir sag together, relaxing towards T with tau = R_s * C (C = rail +
    reservoir): V_ready = T + (V_floor - T) * exp(t_motor / tau); where the switch limits, the
    reservoir gives I_motor - I_limit: V_ready = V_floor + (I_motor - I_limit) * t_motor / C. The
    higher of the two, never above `ready_max_V` (the time-out fires the motor anyway).
    """
    e_V, ep_V = circuit._source()
    floor_V = lock.brownout_V + lock.ready_margin_V
    c_F = lock.mcu_rail_F + lock.reservoir_F
    target_V = ep_V - lock.motor_current_A * circuit.r_s
    limit_A = circuit._limit_A(e_V)
    relaxing_V = np.where(target_V < floor_V, target_V + (floor_V - target_V) * np.exp(lock.motor_s / (circuit.r_s * c_F)), 0.0)
    limited_V = np.where(limit_A < lock.motor_current_A, floor_V + (lock.motor_current_A - limit_A) * lock.motor_s / c_F, 0.0)
    return np.minimum(np.maximum(relaxing_V, limited_V), lock.ready_max_V)
