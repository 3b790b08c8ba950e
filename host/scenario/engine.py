"""The interface between scenario files and whatever runs them: the Engine and its StepResult.

The emulator implements `Engine`; the runner (runner.py) calls it. One Engine instance runs
one scenario:

    engine = factory(runtime, scenario)       # build it; nothing of the site exists yet
    engine.setup(scenario)                    # create the site at scenario.start
    engine.open(key="K1", lock="L1", hold_s=2.0) -> StepResult   # one call per step, in order
    engine.summary() -> dict                  # optional figures for the final summary
    engine.close()                            # always called, also after a failure

Every action method receives the step's arguments as keyword arguments, already validated by
the parser: every id names something in `scenario.site`, durations are seconds (float), a
schedule is a `model.Schedule` (minutes since local midnight, in `scenario.timezone`).
Arguments a file left out arrive as their defaults (None, or the documented default).

An action method returns a StepResult describing what happened; it raises only for a bug or
a broken environment (never to report a denial or a refused validation: those are
StepResults). Virtual time moves only in `advance`, `remove_battery` (by `for_s`), `open` (by
the transaction's duration plus `hold_s`) and whatever time the devices themselves take.

The emulator implements it (keylock.host.emulator); `keylock.host.emulator.factory` finds
the engine to use, which may be another one given as module:function.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from .model import Scenario, ScenarioEvent, Schedule

__all__ = ["Engine", "ScenarioEvent", "StepResult"]


@dataclass
class StepResult:
    """What one step did, as the engine saw it.

    result   "ok" (the action was done), "granted" (open/insert: the lock opened),
             "denied" (open/insert: the lock refused; `reason` says why) or
             "error" (validate/pair/unpair refused; `code` says why).
    reason   a denial reason of SCENARIOS.md (model.DENIAL_REASONS) when result is "denied".
    code     an error code of SCENARIOS.md (model.ERROR_CODES) when result is "error".
    fields   status: every status field of the key or lock (model.KEY_STATUS_FIELDS or
             LOCK_STATUS_FIELDS) with its value: bool, int, float, a phone id or None, and
             `valid_until` as an aware datetime or an ISO string or None. The runner compares
             only the fields a step names, but the engine should report all of them.
    keys     battery_report: the ids of the keys the server reports at or below 15 %.
    at_risk  battery_report: the keys above 15 % whose openings the server predicts to fail
             within its horizon (14 days), each id with that date (ISO, the site's local
             date), e.g. {"K2": "2026-01-08"}.
    events   audit: the events read, oldest first (with `last`, only the last that many),
             each an ScenarioEvent(key, result "granted"/"denied", reason or None).
    details  anything else worth showing, by name with units, numbers preferred; the runner
             prints them and sums up numeric ones per action in the scenario summary.
             Conventions: open/insert give `energy_J` (drawn from the key's battery by this
             opening) and `soc` (the key's state of charge after it); advance may give
             `soc` per key as `soc_K1`, ...; anything may give `time` (virtual, ISO).
    """

    result: str = "ok"
    reason: str | None = None
    code: str | None = None
    fields: dict = field(default_factory=dict)
    keys: list[str] | None = None
    at_risk: dict[str, str] | None = None
    events: list[ScenarioEvent] | None = None
    details: dict = field(default_factory=dict)


class Engine(ABC):
    """Runs one scenario's steps on emulated devices and an access server.

    The methods are named after the actions of SCENARIOS.md; the runner calls
    `getattr(engine, step.action)(**step.args)`.
    """

    @abstractmethod
    def setup(self, scenario: Scenario) -> None:
        """Create the site at `scenario.start` (virtual time, UTC), seeded by `scenario.seed`.

        For each `scenario.site.keys` entry: a holder (`holder`, ID06 card `id06` expiring
        `id06_expires`), a key with its battery (`battery`, `soc`, `temperature_C`) in the life
        cycle given by `state` ("approved": issued, receipt signed and access application
        approved, not yet validated; "issued": receipt not signed; "unapproved": application
        not approved) and, when `site` is set, made for another site (its locks here must deny
        it with auth_failed). Each lock (`group` is its key bundle, `kind` cylinder or padlock,
        at `temperature_C`) is registered on the server. Each phone runs the validation app.
        No key has access rights and none is validated until the steps say so.
        """

    @abstractmethod
    def grant(self, key: str, locks: tuple[str, ...] | None, groups: tuple[str, ...] | None, schedule: Schedule | None) -> StepResult:
        """Add a right on the server to these locks or these groups (exactly one is given),
        limited to `schedule` if given. Reaches the key at its next validation. Result "ok"."""

    @abstractmethod
    def revoke(self, key: str, locks: tuple[str, ...] | None, groups: tuple[str, ...] | None) -> StepResult:
        """Remove the right on the server to these locks or groups. Result "ok"."""

    @abstractmethod
    def validate(self, key: str, phone: str | None, online: bool) -> StepResult:
        """Validate the key with the server through `phone`'s app (or the wall programmer
        when `phone` is None): new rights, a 10-day validity, the blocklist, the clock; its
        audit trail is uploaded. `online` False: the server is unreachable. Result "ok", or
        "error" with code offline, blocked, not_activated, unapproved, card_expired
        (and not_paired when a phone is given that is not paired with the key, if the app
        requires pairing)."""

    @abstractmethod
    def open(self, key: str, lock: str, hold_s: float) -> StepResult:
        """Insert the key, run the whole transaction on the emulated devices, keep the key in
        for `hold_s` seconds from insertion, remove it. Result "granted", or "denied" with a
        reason (key_removed when `hold_s` ends before the transaction does; low_battery when
        the lock browned out). Details: energy_J, soc."""

    @abstractmethod
    def insert(self, key: str, lock: str) -> StepResult:
        """Insert the key and run the transaction; the key stays in (and keeps powering the
        lock, draining its battery through later `advance`s) until `remove`. Result as open."""

    @abstractmethod
    def remove(self, key: str, lock: str) -> StepResult:
        """Pull the key inserted by `insert`. Result "ok"."""

    @abstractmethod
    def advance(self, seconds: float) -> StepResult:
        """Move virtual time forward by `seconds`: batteries self-discharge, keys left in
        locks keep draining, validity runs out. Result "ok"."""

    @abstractmethod
    def block(self, key: str) -> StepResult:
        """Put the key on the server's blocklist (a new blocklist version). Result "ok"."""

    @abstractmethod
    def unblock(self, key: str) -> StepResult:
        """Take the key off the server's blocklist (a new blocklist version). Result "ok"."""

    @abstractmethod
    def pair(self, key: str, phone: str) -> StepResult:
        """Pair the key with the phone over Bluetooth from the phone's app. Result "ok", or
        "error" with already_paired (paired with another phone)."""

    @abstractmethod
    def unpair(self, key: str, phone: str) -> StepResult:
        """Release the pairing from the phone's app. Result "ok", or "error" with not_paired."""

    @abstractmethod
    def remove_battery(self, key: str, for_s: float) -> StepResult:
        """Take the key's battery out and put it back after `for_s` seconds (virtual time
        moves by `for_s`); at one minute or more the key loses its pairing and its clock
        (the backup capacitor's retention). Result "ok"."""

    @abstractmethod
    def set_temperature(self, celsius: float, key: str | None, lock: str | None, part: str | None) -> StepResult:
        """Set the ambient temperature of a key or a lock (exactly one is given), or with
        `part` ("body" or "keyhole", locks only) heat that part of the lock to `celsius`.
        Result "ok"."""

    @abstractmethod
    def set_battery(self, key: str, soc: float) -> StepResult:
        """Set the key's battery state of charge, 0..1. Result "ok"."""

    @abstractmethod
    def status(self, key: str | None, lock: str | None) -> StepResult:
        """Read the status of a key or a lock (exactly one is given). Result "ok" with
        `fields`: a key's battery_low, soc, validated, valid_until, paired_phone, clock_set;
        a lock's blocklist_version, blocklist_size, events, temperature_C."""

    @abstractmethod
    def battery_report(self) -> StepResult:
        """The server's report of keys at or below 15 %, and of those at risk. Result "ok"
        with `keys` and `at_risk`."""

    @abstractmethod
    def audit(self, key: str | None, lock: str | None, last: int | None) -> StepResult:
        """Read the audit events held by a lock or a key (exactly one is given), oldest
        first; with `last`, only the last that many. Result "ok" with `events`."""

    def summary(self) -> dict:
        """Figures for the scenario's summary after the last step, e.g.
        {"battery_soc": {"K1": 0.93}}; by default none."""
        return {}

    def close(self) -> None:  # noqa: B027  (optional: most engines hold nothing to release)
        """Release everything (files, subprocesses such as the MicroPython runtime)."""
