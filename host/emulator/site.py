"""An emulated site: keys and locks running the real firmware, the access server, a virtual
clock and the physics of hw_models.

Time is virtual: `advance` moves it and drains every key's cell (a key left in a lock powers
the lock's idle current), lets the locks' thermal nodes relax toward ambient. An opening
charges the contact link's wire time per frame and asks hw_models.power whether the key's
cell carries the lock through boot, computation and the motor pulse: a brown-out resets the
lock at that phase (in the motor pulse through the firmware's own power-loss path). The power
path is hw_models.insertion's one-cell kernel, served from physics_cache.py where no outcome can
turn on it (`physics_cache=False`: every insertion integrated exactly).
"""

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...firmware import signed as fw_signed
from ...hw_models import DEFAULT_LOCK, DEFAULT_THERMAL, battery, battery_by_name, drain, power, retention, thermal
from ...hw_models.params import BatteryParams
from ...protocol.codes import Denial, ErrorCode, MsgType, Outcome, Role
from ...protocol.frame import decode_frame, encode_frame
from ..server import AccessServer, ServerError, signing
from .devices import PowerCut, make_devices
from .physics_cache import InsertionCache

LINK_BAUD = 57600  # the key-lock contact link
DEFAULT_HOLD_S = 2.0
THERMAL_STEP_MAX_S = 3600.0
BITS_PER_BYTE = 10
# What a board needs to compute its answer to one frame, added to the virtual clock (and so to
# the lock's tick counter) per frame: the heaviest is a handshake step, a KDF and two
# HMAC-SHA256 over < 100 bytes, a few ms on an RP2040 at 125 MHz. Never the host's wall time:
# a slow runtime (MicroPython under WebAssembly, a loaded CI machine) cannot cause a timeout.
COMPUTE_ALLOWANCE_S = 0.005
TICKS_MASK = (1 << 30) - 1  # a lock's millisecond ticks wrap as MicroPython's time.ticks_ms()
CREDENTIAL_TYPE = int(MsgType.CREDENTIAL)


@dataclass
class KeyState:
    name: str
    battery: BatteryParams
    soc: float
    temperature_C: float
    in_lock: str | None = None
    # advance's fall of soc per second out of a lock and in one, for (the cell, temperature_C) drain_for
    drain_for: tuple = ()
    drain_out_per_s: float = 0.0
    drain_in_per_s: float = 0.0
    uploaded_to: int = 0  # the phone app's pointer into the key's carried events: the server has those before it
    clock_skew_s: float = 0.0  # how far the key's RTC is off; validation sets it right


@dataclass
class LockState:
    name: str
    kind: str
    ambient_C: float
    temps_C: np.ndarray = field(default_factory=lambda: np.zeros(thermal.N_NODES))  # body, electronics, flame spot
    settled: bool = True  # every node at ambient: advance has nothing to relax (set_temperature of a part clears it)


@dataclass
class Opening:
    outcome: Outcome
    reason: Denial
    energy_J: float = 0.0
    min_supply_V: float = 0.0
    wire_bytes: int = 0
    duration_s: float = 0.0  # how long the lock needed, from insertion to the end of its work


def _hmac_compressions(n_bytes):
    """SHA-256 compressions of one HMAC over `n_bytes`: the padded key block and the message
    with its padding (inner), the padded key block and the inner digest (outer)."""
    return 1 + (n_bytes + 9 + 63) // 64 + 2 if n_bytes else 0


def _exchange_s(received, sent):
    """The lock's time for one frame in or out: its wire time at the link's baud and the
    HMAC it checks or seals over the frame (a handshake frame's KDF is of the same order)."""
    n = len(received) + len(sent)
    return (
        power.wire_time_s(n, LINK_BAUD)
        + (_hmac_compressions(len(received)) + _hmac_compressions(len(sent))) * DEFAULT_LOCK.sha256_compression_s
    )


def _flash_s(work, lock):
    """The lock's time for its flash work in one call: [bytes programmed, sectors erased]."""
    programmed, erased = work
    return (programmed + 3) // 4 * lock.flash_word_write_s + erased * lock.flash_page_erase_s


def _decide(path):
    """Run what a granting lock does after it checked the credential, on `path` (a copy): the
    wait for the reservoir this cell needs, the motor pulse and the audit write. None when it all held,
    else why it ended ("lock_reset" or "key_reset"); `path.phase` says where."""
    lock = path.lock
    ended = path.run("wait", lock.max_wait_s, lock.idle_current_A, until_V="ready")
    if ended is None:
        ended = path.run("motor", lock.motor_s, lock.motor_current_A)
    if ended is None:
        ended = path.run("audit", _flash_s((64, 0), lock), lock.mcu_active_current_A)
    return ended


class EmulatedSite:
    def __init__(
        self,
        runtime: str = "cpython",
        start_s: int = 1767600000,
        timezone: str = "UTC",
        folder: Path | None = None,
        physics_cache: bool = True,
    ):
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="keylock-site-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.now_s = float(start_s)
        self.server = AccessServer.create(self.folder / "site.db", now_s=lambda: int(self.now_s), timezone=timezone)
        self.devices = make_devices(runtime, self.folder)
        self.keys: dict[str, KeyState] = {}
        self.locks: dict[str, LockState] = {}
        self._seq = 0
        self._holders: set[str] = set()
        self._home_masters: dict[str, bytes] = {}  # keys made for another site: the master secret of their server
        self.relay_delay_s = 0.0  # fault injection: a relay between key and lock adds this to every frame
        # The insertions' physics, cached on the cell and the loads (physics_cache.py: never an outcome)
        self.physics = InsertionCache(enabled=physics_cache)
        self._drain_rates_by_cell: dict[tuple[int, float], tuple[BatteryParams, tuple[float, float]]] = {}

    # --- building the site ------------------------------------------------------------

    def add_key(
        self,
        name,
        holder=None,
        id06=None,
        id06_expires_s=None,
        battery="CR2032",
        soc=1.0,
        temperature_C=20.0,
        state="approved",
        other_site_secret=None,
        blank=False,
    ):
        """A key of this site, or with `other_site_secret` one made for another site (its
        secrets derive from that site's master secret, so this site's locks refuse it).
        `blank`: the server knows it but the device is left unprovisioned, for a provisioning
        session from outside. Returns the PROVISION fields."""
        holder = holder or name
        if holder not in self._holders:  # a holder may carry several keys; the card is theirs
            if id06_expires_s is None:
                id06_expires_s = self.default_card_expiry_s()
            self.add_holder(holder, id06 or f"ID06-{name}", id06_expires_s)
        battery_params = battery_by_name(battery)  # an unknown battery is refused before anything changes
        self.server.add_key(name, holder, state=state, battery=battery_params.name)
        fields = self.server.provision_key(name)
        if other_site_secret is not None:
            # Its own site's server made it and signs its commands, with its own master secret.
            fields["secret"] = signing.device_secret(other_site_secret, Role.KEY, fields["device_id"])
            self._home_masters[name] = other_site_secret
        self.devices.add(name, "key")
        self.keys[name] = KeyState(name, battery_params, float(soc), float(temperature_C))
        if not blank:
            self._host(name, MsgType.PROVISION, fields, expect_ok=True)
        return fields

    def default_card_expiry_s(self):
        """A new holder's ID06 card, unless told otherwise: valid for just under five years."""
        return int(self.now_s) + 5 * 365 * 86400 - 86400

    def add_holder(self, name, id06, id06_expires_s):
        self.server.add_holder(name, id06, id06_expires_s)
        self._holders.add(name)

    def add_lock(self, name, group=None, kind="cylinder", temperature_C=20.0, blank=False):
        """A lock of this site; `blank` as for add_key. Returns the PROVISION fields."""
        self.server.add_lock(name, group=group, kind=kind)
        self.devices.add(name, "lock")
        self.locks[name] = LockState(name, kind, float(temperature_C), np.full(thermal.N_NODES, float(temperature_C)))
        fields = self.server.provision_lock(name)
        if not blank:
            self._host(name, MsgType.PROVISION, fields, expect_ok=True)
        return fields

    def close(self):
        self.devices.close()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    # --- the host link ------------------------------------------------------------------

    def host_frame(self, name, raw):
        """A raw frame on the device's host port (USB serial); its raw answer or None."""
        self._sync(name)
        reply = self.devices.call(name, "on_host_frame", raw)
        if name in self.keys:
            # The frame may have set the key's clock (TIME_SET, VALIDATE): from now on the
            # key's RTC runs from there, so remember how far it is from virtual time.
            rtc = self.devices.get(name, "rtc_s")
            if rtc is not None:
                self.keys[name].clock_skew_s = float(rtc - int(self.now_s))
        return reply

    def _host(self, name, msg_type, fields, expect_ok=False):
        """Send one host command to a device; (type, fields) of its answer."""
        self._seq = (self._seq + 1) & 0xFF
        reply = self.host_frame(name, encode_frame(msg_type, fields, self._seq))
        if reply is None:
            raise RuntimeError(f"{name} did not answer {msg_type.name}")
        decoded = decode_frame(reply)
        if expect_ok and not (decoded.type == MsgType.RESULT and decoded.fields["code"] == ErrorCode.OK):
            raise RuntimeError(f"{name} refused {msg_type.name}: {decoded.fields}")
        return decoded.type, decoded.fields

    def _signed(self, key, msg_type, fields=None):
        """A command that changes the key's security state, as the phone app relays it: the
        key's challenge, the server's signature for this key bound to it, the signed command.
        None when the key took it, else the key's error code."""
        _t, challenge = self._host(key, MsgType.KEY_CHALLENGE_REQUEST, {})
        if "nonce" not in challenge:
            return ErrorCode(challenge["code"])
        signed = self.server.sign_command(key, challenge["nonce"], msg_type, fields)
        if key in self._home_masters:  # a key of another site: its own server signs, as at home
            key_id = self.server.key_id(key)
            own = signing.device_secret(self._home_masters[key], Role.KEY, key_id)
            signed["mac"] = fw_signed.command_mac(signing.command_key(own), key_id, challenge["nonce"], int(msg_type), signed["body"])
        _t, answer = self._host(key, MsgType.SIGNED_COMMAND, signed)
        code = ErrorCode(answer["code"])
        return None if code == ErrorCode.OK else code

    def _sync(self, name):
        """Give a device the world's readings: the key's clock keeps running, its gauge and
        supply follow the cell, a lock's electronics see its keyhole node's temperature."""
        if name in self.keys:
            k = self.keys[name]
            readings = {
                # the gauge rounds up: exactly 15 % warns, 15.01 % does not (as the server's report)
                "battery_permille": math.ceil(k.soc * 1000 - 1e-9),
                "supply_mV": int(round(float(battery.ocv_V(k.soc, k.battery)) * 1000)),
                "temperature_dC": int(round(k.temperature_C * 10)),
            }
            if self.devices.get(name, "rtc_s") is not None:
                readings["rtc_s"] = int(self.now_s + k.clock_skew_s)
            self.devices.set(name, **readings)
        else:
            lock = self.locks[name]
            self.devices.set(name, temperature_dC=int(round(float(lock.temps_C[thermal.ELECTRONICS]) * 10)))

    # --- time and the physical world ----------------------------------------------------

    def advance(self, duration_s: float):
        if duration_s <= 0:
            return
        self._drain_keys(duration_s)
        for lock in self.locks.values():
            if lock.settled:
                continue
            left = duration_s
            while left > 0 and not np.allclose(lock.temps_C, lock.ambient_C, atol=1e-3):
                dt_s = min(left, THERMAL_STEP_MAX_S)  # the discretised model's validity range
                lock.temps_C = np.asarray(thermal.step(lock.temps_C, np.zeros(2), dt_s, lock.ambient_C, DEFAULT_THERMAL))
                left -= dt_s
            lock.settled = bool(np.allclose(lock.temps_C, lock.ambient_C, atol=1e-3))
        self.now_s += duration_s

    def _drain_keys(self, duration_s: float, busy: str | None = None):
        """Every key's idle drain over `duration_s`, but the `busy` one's (in a transaction,
        its cell's charge is the power path's). Every term of the drain is a constant current at
        a given temperature, in a lock or out: each key keeps its two rates until its
        temperature (or its cell) changes."""
        for k in self.keys.values():
            if k.name == busy:
                continue
            if not k.drain_for or k.drain_for[0] is not k.battery or k.drain_for[1] != k.temperature_C:
                k.drain_for = (k.battery, k.temperature_C)
                k.drain_out_per_s, k.drain_in_per_s = self._drain_rates(k.battery, self._cell_C(k))
            k.soc = max(k.soc - (k.drain_out_per_s if k.in_lock is None else k.drain_in_per_s) * duration_s, 0.0)

    def _drain_rates(self, battery, cell_C) -> tuple[float, float]:
        """drain.drain_rates_per_s, once per cell and temperature for the whole site (a site's
        keys mostly share both, and the site simulation changes temperatures hourly)."""
        known = self._drain_rates_by_cell.get((id(battery), cell_C))
        if known is None or known[0] is not battery:
            known = self._drain_rates_by_cell[id(battery), cell_C] = (battery, drain.drain_rates_per_s(battery, cell_C))
        return known[1]

    def _cell_C(self, k):
        # The cell's model is valid over its rated range; colder or hotter is held at the limit.
        return min(max(k.temperature_C, k.battery.min_temperature_C), k.battery.max_temperature_C)

    def set_temperature(self, celsius, key=None, lock=None, part=None):
        if key:
            self.keys[key].temperature_C = float(celsius)
            return
        assert lock is not None, "a key or a lock"
        state = self.locks[lock]
        if part is None:  # the surroundings: every node settles to it
            state.ambient_C = float(celsius)
            state.temps_C = np.full(thermal.N_NODES, float(celsius))
            state.settled = True
        elif part == "body":
            state.temps_C[[thermal.BODY, thermal.SURFACE]] = float(celsius)  # the flame spot is the body's steel
            state.settled = False
        else:
            state.temps_C[thermal.ELECTRONICS] = float(celsius)
            state.settled = False

    def skew_clock(self, key, seconds):
        """Fault injection: the key's real-time clock runs `seconds` off (negative: behind)."""
        self.keys[key].clock_skew_s = float(seconds)

    def set_battery(self, key, soc):
        self.keys[key].soc = float(soc)

    def remove_battery(self, key, duration_s):
        self.advance(duration_s)
        if not retention.retained(duration_s):
            self.devices.lose_backup(key)

    # --- openings -------------------------------------------------------------------------

    def open(self, key, lock, hold_s=None) -> Opening:
        """Insert, run the transaction, remove. Without `hold_s` the key stays in for the
        default 2 s or as long as the transaction needs; with it, a key pulled before the
        lock finished is `key_removed`."""
        result = self.insert(key, lock, hold_s=hold_s)
        self.advance(hold_s if hold_s is not None else max(DEFAULT_HOLD_S, result.duration_s))
        self.remove(key)
        return result

    def insert(self, key, lock, hold_s=None) -> Opening:
        """Insert the key and run the transaction, its physics step by step with it: the
        in-rush until the lock boots, each frame exchange (its wire time, the lock's crypto
        and flash work), and at the lock's decision the wait for its reservoir, the motor and
        the audit write, tried on a copy and kept only if the lock fires the motor. A brown-out
        of the lock ends the lock's part there; one of the key (its own supply below its
        brown-out) restarts the key and loses the transaction: `key_reset`."""
        k = self.keys[key]
        k.in_lock = lock
        began_s = self.now_s
        self._sync(key)
        self.devices.boot(lock)  # the lock is passive: every insertion powers it up afresh
        self._sync(lock)
        path = self.physics.start(k.battery, k.soc, self._cell_C(k), hold_s=hold_s)
        ended = path.charge()  # None: the lock booted; "lock_reset": it never did
        wire = 0
        lock_alive = ended is None
        pulled = False
        raw = None if ended == power.KEY_RESET else self.devices.call(key, "begin")
        flash_seen = self.devices.flash_work(lock)  # only the lock's own calls move it
        while raw is not None:
            wire += len(raw)
            self.now_s += len(raw) * BITS_PER_BYTE / LINK_BAUD + COMPUTE_ALLOWANCE_S + self.relay_delay_s
            reply = None
            # The lock's tick counter is virtual time (wire time, relay delay), never host
            # wall time: a slow runtime cannot cause a false timeout.
            self.devices.set(lock, ticks=int(self.now_s * 1000) & TICKS_MASK)
            if lock_alive:
                ended = path.run("receive", _exchange_s(raw, b""), path.lock.mcu_active_current_A)
                lock_alive = ended is None
            if lock_alive:
                decision = None
                if raw[3] & 0x7F == CREDENTIAL_TYPE:  # the lock decides on this frame
                    decision = path.copy()
                    ended = _decide(decision)
                    pulled = hold_s is not None and decision.elapsed_s > hold_s
                    if pulled or (ended is not None and decision.phase != "motor"):
                        lock_alive = False  # it lost power before it could decide
                        path = decision if not pulled else path
                    self.devices.set(lock, cut_at_motor=ended is not None)
                if lock_alive:
                    motors_before = self._motor_pulses(lock) if decision is not None else 0
                    try:
                        reply = self.devices.call(lock, "on_key_frame", raw)
                    except PowerCut:
                        lock_alive = False
                    if decision is not None and (not lock_alive or self._motor_pulses(lock) > motors_before):
                        path = decision  # the motor ran (to its end, or to the brown-out), then the audit write
                        ended = path.outcome
                        flash_s = 0.0  # the trial charged the decision's flash work
                        if lock_alive:
                            flash_seen = self.devices.flash_work(lock)
                    else:  # no motor: the trial's outcome was never lived
                        flash_now = self.devices.flash_work(lock)
                        ended = None
                        flash_s = _flash_s([b - a for a, b in zip(flash_seen, flash_now, strict=True)], path.lock)
                        flash_seen = flash_now
                    if ended is None:
                        ended = path.run("reply", _exchange_s(b"", reply or b"") + flash_s, path.lock.mcu_active_current_A)
                    if ended is not None:
                        lock_alive = False
                        reply = None  # its answer never made it out
            if ended == power.KEY_RESET or reply is None:
                break
            wire += len(reply)
            self.now_s += len(reply) * BITS_PER_BYTE / LINK_BAUD + COMPUTE_ALLOWANCE_S + self.relay_delay_s
            raw = self.devices.call(key, "on_lock_frame", reply)
        if ended == power.KEY_RESET:
            # The key's microcontroller restarted: its RAM and the transaction are gone, its
            # flash and its backup domain (the clock) are not; the lock lost its supply with it.
            self.devices.boot(key)
            self._sync(key)
            self.devices.boot(lock)
            got = (Outcome.DENIED, Denial.KEY_RESET)
        else:
            if raw is not None:
                self.devices.call(key, "link_lost")
            got = self.devices.outcome(key)
            if got is None:
                got = (Outcome.DENIED, Denial.KEY_REMOVED if pulled else Denial.LOW_BATTERY)
        charge_C, energy_J = float(path.charge_C), float(path.energy_J)
        k.soc = max(k.soc - charge_C / drain.capacity_C(k.battery), 0.0)  # drain.drain's debit of one opening
        # The clock moved by the frames' time: the other keys idled through it too (the same
        # drain whether a site runs whole or in parts).
        self._drain_keys(self.now_s - began_s, busy=key)
        min_supply_V = float(path.min_supply_V)
        return Opening(
            Outcome(got[0]), Denial(got[1]), energy_J, min_supply_V if np.isfinite(min_supply_V) else 0.0, wire, float(path.elapsed_s)
        )

    def _motor_pulses(self, lock):
        return sum(1 for what, _detail in self.devices.get(lock, "outputs") if what == "motor")

    def remove(self, key):
        self.keys[key].in_lock = None

    # --- the server and the phone app -----------------------------------------------------

    def validate(self, key, phone=None, online=True):
        """None when validated, else the error code name (SCENARIOS.md `error:`)."""
        if phone is not None:
            paired = self._host(key, MsgType.STATUS_REQUEST, {})[1]["paired_phone"]
            if paired and paired != self.server.phone_id(phone):
                return "already_paired"
        k = self.keys[key]
        try:
            audit = self._carried_batches(key, k.uploaded_to)
            v = self.server.validate(key, online=online, soc=k.soc, temperature_C=k.temperature_C, audit=audit)
        except ServerError as exc:
            return exc.code
        fields = {"server_time": v.server_time, "credential": v.credential, "uploaded_to": v.uploaded_to}
        refused = self._signed(key, MsgType.VALIDATE, fields)
        k.uploaded_to = v.uploaded_to
        if refused is not None:
            raise RuntimeError(f"{key} refused its signed validation: {refused.name.lower()}")
        self._signed(key, MsgType.BLOCKLIST_UPDATE, v.blocklist)  # "stale" when it has this version: fine
        return None

    def _carried_batches(self, key, from_seq):
        """The key's carried events from position `from_seq` as its AUDIT_READ answers them,
        each batch with its from_seq (what the server verifies the key's MAC over)."""
        batches = []
        while True:
            _t, fields = self._host(key, MsgType.AUDIT_READ, {"from_seq": from_seq, "max_count": 64})
            batches.append(dict(fields, from_seq=from_seq))
            if not fields["records"]:
                return batches
            from_seq = fields["next_seq"]

    def pair(self, key, phone):
        return self._result(key, MsgType.PAIR, {"phone_id": self.server.phone_id(phone)})

    def unpair(self, key, phone):
        """The phone's app releases the key: the server signs the release for this key."""
        refused = self._signed(key, MsgType.UNPAIR, {"phone_id": self.server.phone_id(phone)})
        return None if refused is None else refused.name.lower()

    def _result(self, name, msg_type, fields):
        _t, answer = self._host(name, msg_type, fields)
        code = ErrorCode(answer["code"])
        return None if code == ErrorCode.OK else code.name.lower()

    def key_status(self, key):
        _t, s = self._host(key, MsgType.STATUS_REQUEST, {})
        return s

    def lock_status(self, lock):
        _t, s = self._host(lock, MsgType.STATUS_REQUEST, {})
        return s

    def lock_audit(self, lock):
        """Every event the lock holds, oldest first."""
        events, from_seq = [], 0
        while True:
            _t, fields = self._host(lock, MsgType.AUDIT_READ, {"from_seq": from_seq, "max_count": 64})
            if not fields["records"]:
                return events
            events += fields["records"]
            from_seq = fields["records"][-1]["seq"] + 1

    def key_audit(self, key):
        """Every lock event the key carries, oldest first."""
        return [r for b in self._carried_batches(key, 0) for r in b["records"]]
