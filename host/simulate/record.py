"""What a simulated run saw: the input of every report (index.html, the weekly PDFs,
summary.json, the events CSV). The runner (run.py) fills a Run; the reports only read it.

Times are virtual Unix seconds (`time_s`); the site's local dates and hours come from
`Run.timezone`. Everything here is the emulator's ground truth, except `audit`, which is the
access server's view (what reached it, and when).
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from .model import Service


@dataclass(frozen=True)
class Attempt:
    """One insertion of a key into a lock, as the emulator ran it."""

    time_s: float
    key: str
    lock: str
    result: str  # "granted" or "denied"
    reason: str | None  # the denial reason (protocol name, e.g. "blocked"), None when granted
    energy_J: float
    min_supply_V: float
    soc: float  # the key's state of charge after the opening
    key_C: float  # the key's cell temperature
    lock_C: float  # the lock's electronics
    blocklist_version: int  # the lock's blocklist version after the attempt
    by: str = "holder"  # "holder", "finder" (a lost key), "technician"
    # False: the key refused on its own (no credential, or expired by its own clock) and sent
    # the lock nothing, so no lock recorded it and no audit of it can ever reach the server.
    at_lock: bool = True


@dataclass(frozen=True)
class ValidationRecord:
    time_s: float
    key: str
    error: str | None  # None: validated; else the server's or the key's error code
    valid_until_s: int | None = None


@dataclass(frozen=True)
class Lapse:
    """A key without a valid credential from `from_s` (its last one expired) until `to_s`
    (the next validation; None: still lapsed at the end of the run)."""

    key: str
    from_s: float
    to_s: float | None


@dataclass(frozen=True)
class KeySample:
    time_s: float
    key: str
    soc: float
    temperature_C: float


@dataclass(frozen=True)
class LockSample:
    time_s: float
    lock: str
    body_C: float
    electronics_C: float
    ambient_C: float


@dataclass(frozen=True)
class Block:
    """The operator blocked `key` at `time_s`: the server's blocklist became `version`."""

    time_s: float
    key: str
    version: int
    unblocked_s: float | None = None


@dataclass(frozen=True)
class Arrival:
    """Lock `lock` adopted blocklist `version` at `time_s`, carried by `via_key`."""

    time_s: float
    lock: str
    version: int
    via_key: str


@dataclass(frozen=True)
class AuditRow:
    """A lock's audit event as the server holds it at the end: when it happened and when a
    key's upload brought it to the server (the audit lag is the difference)."""

    time_s: float
    uploaded_at_s: float
    key: str | None
    lock: str
    result: str
    reason: str | None


@dataclass(frozen=True)
class Unit:
    """A key on a weekly battery report: at or below the service's low_soc."""

    key: str
    holder: str
    soc: float
    flat: bool  # its openings already fail (below the charge an opening needs on the day)
    # Listed although above the low charge: the server predicts its openings to fail on this
    # local date (AccessServer.battery_at_risk: the cold ahead). None: at or below the low charge.
    fails_on: date | None = None


@dataclass(frozen=True)
class Job:
    """A battery-change job: in a service window from `start` (local, naive) for an hour's
    slot, or urgent (as soon as a technician can go: `start` is when it was raised)."""

    key: str
    start: datetime
    urgent: bool
    why: str  # "low", "flat", "too late for a window" ...
    window: str | None = None  # e.g. "tue 13-16", None when urgent


@dataclass(frozen=True)
class WeeklyReport:
    monday: date
    time_s: float  # when it was made (the service's report time)
    units: tuple[Unit, ...]
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class JobDone:
    time_s: float
    key: str
    soc_before: float
    urgent: bool


@dataclass
class Run:
    """A whole run. `wall_s` and `openings_per_s` measure the simulation itself."""

    site: str
    seed: int
    start_s: float
    days: int
    timezone: str
    runtime: str
    low_soc: float = Service.low_soc  # the site's service threshold: the weekly report lists keys at or below it
    keys: dict[str, str] = field(default_factory=dict)  # key -> holder
    locks: dict[str, str] = field(default_factory=dict)  # lock -> kind
    groups: dict[str, str | None] = field(default_factory=dict)  # lock -> group
    attempts: list[Attempt] = field(default_factory=list)
    validations: list[ValidationRecord] = field(default_factory=list)
    lapses: list[Lapse] = field(default_factory=list)
    key_samples: list[KeySample] = field(default_factory=list)
    lock_samples: list[LockSample] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    weekly: list[WeeklyReport] = field(default_factory=list)
    jobs_done: list[JobDone] = field(default_factory=list)
    left_in_lock: list[tuple[float, float, str, str]] = field(default_factory=list)  # (from_s, to_s, key, lock)
    warmed: list[tuple[float, str, float]] = field(default_factory=list)  # (time_s, lock, body_C)
    wall_s: float = 0.0

    @property
    def openings_per_s(self) -> float:
        return len(self.attempts) / self.wall_s if self.wall_s > 0 else 0.0
