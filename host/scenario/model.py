"""The parsed form of a scenario file (shared/SCENARIOS.md), with the line of everything.

Values are already validated and converted: ids are strings, durations are seconds (float),
times are timezone-aware datetimes in UTC, schedules are minutes since local midnight.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ...hw_models.params import BATTERIES as BATTERY_PARAMS
from ...protocol.codes import DAY_NAMES, PUBLIC_ERROR_CODES
from ...protocol.codes import DENIAL_REASONS as DENIAL_REASONS  # re-exported: the scenario's `denied:` values
from ..errors import UsageError
from ..server.climate import Climate as Climate  # re-exported: a site's `climate:`
from ..server.climate import ColdSnap as ColdSnap
from ..server.climate import from_annual as from_annual
from ..server.server import LOCK_KINDS as LOCK_KINDS  # re-exported: a lock's `kind:`

DEFAULT_START = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)  # a Monday
# cpython: the firmware in the host's Python; micropython: the WebAssembly port under Node.js
# (one interpreter per site); unix: MicroPython's unix port, one process per device with a
# board-sized heap (an addition to SCENARIOS.md's two).
RUNTIMES = ("cpython", "micropython", "unix")
BATTERIES = tuple(BATTERY_PARAMS)  # the battery models keylock has
# A key's `state:` in a scenario; `approved` (the default) is issued, receipt signed and
# access application approved.
KEY_SETUP_STATES = ("approved", "issued", "unapproved")
PARTS = ("body", "keyhole")
ERROR_CODES = PUBLIC_ERROR_CODES  # a step's `error:` values


# Status fields and the type of their values: "bool", "number", "int", "time" (ISO or null),
# "phone" (a phone id or null).
KEY_STATUS_FIELDS = {
    "battery_low": "bool",
    "soc": "number",
    "validated": "bool",
    "valid_until": "time",
    "paired_phone": "phone",
    "clock_set": "bool",
}
LOCK_STATUS_FIELDS = {
    "blocklist_version": "int",
    "blocklist_size": "int",
    "events": "int",
    "temperature_C": "number",
}


class ScenarioError(UsageError):
    """A file that is not a valid scenario; the message reads `FILE:LINE: reason` (CLI exit 2)."""

    def __init__(self, path, line: int, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}")


@dataclass(frozen=True)
class Key:
    id: str
    holder: str | None = None
    id06: str | None = None
    id06_expires: date | None = None  # the parser fills in five years after the start
    battery: str = "CR2032"
    soc: float = 1.0
    temperature_C: float = 20.0
    state: str = "approved"
    # An addition to SCENARIOS.md: a key made for another site (its secret is diversified from
    # that site's secret), so this site's locks refuse it with auth_failed. None: this site.
    site: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Lock:
    id: str
    group: str | None = None
    kind: str = "cylinder"
    temperature_C: float = 20.0
    line: int = 0


@dataclass(frozen=True)
class Phone:
    id: str
    line: int = 0


@dataclass(frozen=True)
class Site:
    keys: tuple[Key, ...] = ()
    locks: tuple[Lock, ...] = ()
    phones: tuple[Phone, ...] = ()
    # keylock's addition to the format: how cold the site's mornings get, for the low-battery
    # threshold the server signs into credentials and the battery report's `at_risk`.
    climate: Climate | None = None

    def key(self, key_id: str) -> Key:
        return next(k for k in self.keys if k.id == key_id)

    def lock(self, lock_id: str) -> Lock:
        return next(lock for lock in self.locks if lock.id == lock_id)


@dataclass(frozen=True)
class Schedule:
    """A weekly window in the site's local time: on these days, from `from_min` to `to_min`."""

    days: tuple[str, ...] = DAY_NAMES
    from_min: int = 0  # minutes since local midnight
    to_min: int = 24 * 60  # exclusive; 1440 is "24:00"
    line: int = 0


@dataclass(frozen=True)
class ScenarioEvent:
    """One audit event: expected (in a step's `expect`) or seen (from Engine.audit).

    `result` is "granted" or "denied"; `reason` is the denial reason, or None when an
    expectation says only `result: denied` (any reason matches).
    """

    key: str
    result: str
    reason: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Expect:
    """What a step expects; it has the shape of the StepResult it is compared with.

    `result` is "ok", "granted", "denied" (with `reason`) or "error" (with `code`). For
    `status`, `fields` holds the named fields only; for `battery_report`, `keys` the exact set
    and/or `at_risk` the exact set of keys at risk, each with its expected failure date or None
    (any date); for `audit`, `events` the whole list, oldest first.
    """

    result: str = "ok"
    reason: str | None = None
    code: str | None = None
    fields: dict | None = None
    keys: frozenset[str] | None = None
    at_risk: dict[str, date | None] | None = None
    events: tuple[ScenarioEvent, ...] | None = None
    line: int = 0


@dataclass(frozen=True)
class Step:
    """One step: `action` is the action's name, `args` its keyword arguments for the Engine.

    Argument names are Python names with units: `advance` has `seconds`, `open` `hold_s`,
    `remove_battery` `for_s` (the file's `for`). `index` counts from 1 in file order.
    """

    index: int
    action: str
    args: dict
    expect: Expect | None = None
    line: int = 0


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    site: Site = field(default_factory=Site)
    seed: int | None = None
    runtime: str = "cpython"
    start: datetime = DEFAULT_START  # aware, UTC
    timezone: str = "UTC"  # IANA name; schedules are in this local time
    path: str = "<scenario>"
