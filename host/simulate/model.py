"""The parsed form of a site file (`*.site.yaml`, docs/sites.md), with the line of everything.

A site file says what a site is (keys, locks, holders and groups, as in a scenario) and how it
is used (openings per working day and their hours per group, how holders validate, the
temperatures keys and locks see, events such as a lost key), and the service windows in which
battery changes are booked. `keylock simulate` turns it into a run (plan.py, run.py).
"""

from dataclasses import dataclass, field
from datetime import datetime

from ..scenario.model import Climate, Key, Lock, Phone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
DEFAULT_DAYS = 90


@dataclass(frozen=True)
class SiteKey:
    """A key of the site (the scenario's key entry) with the groups it is granted and the
    climate its holder carries it in."""

    key: Key
    groups: tuple[str, ...] = ()
    climate: str = "outdoor"
    line: int = 0


@dataclass(frozen=True)
class SiteLock:
    lock: Lock
    climate: str = "outdoor"
    line: int = 0


@dataclass(frozen=True)
class Usage:
    """How a group's locks are used: each key granted the group opens one of its locks
    `openings_per_day` times (on average; Poisson) on each of `days`, at times spread
    uniformly from `from_min` to `to_min` (local minutes since midnight)."""

    group: str
    openings_per_day: float = 2.0
    days: tuple[str, ...] = WEEKDAYS
    from_min: int = 7 * 60
    to_min: int = 16 * 60
    line: int = 0


@dataclass(frozen=True)
class Validation:
    """How holders validate their keys with the phone app: every `every_days` days, at a
    time from `from_min` to `to_min`. A share `forget_share` of holders (drawn from the seed)
    forget: they let the credential lapse and validate only `late_days` after it did."""

    every_days: int = 7
    from_min: int = 7 * 60
    to_min: int = 8 * 60
    forget_share: float = 0.0
    late_days: int = 2
    line: int = 0


@dataclass(frozen=True)
class Event:
    """Something that happens on day `day` (0 is the start date), at `at_min` (local):

    - lost: `key` is lost; the operator blocks it `block_after_h` later; whoever found it tries
      it `tries_per_day` times a day at locks of its groups; on `until_day` it is found (unblocked,
      back to its holder). None: never found.
    - left_in_lock: `key` is left in `lock` for `hours` after an opening.
    - warmed: the body of padlock `lock` is warmed to `to_C` (a flame or a heat gun on a frozen
      padlock) and opened by `key`.
    - battery_change: `key`'s cell is replaced with a fresh one.
    """

    kind: str  # "lost", "left_in_lock", "warmed", "battery_change"
    day: int
    key: str | None = None
    lock: str | None = None
    at_min: int = 9 * 60
    until_day: int | None = None
    block_after_h: float = 4.0
    tries_per_day: float = 2.0
    hours: float = 8.0
    to_C: float = 60.0
    line: int = 0


EVENT_KINDS = ("lost", "left_in_lock", "warmed", "battery_change")


@dataclass(frozen=True)
class Window:
    """A weekly service window: on `day`, from `from_min` to `to_min` (local), at preference
    `choice` (1: first choice, 2: used when the first choices are full)."""

    day: str
    from_min: int
    to_min: int
    choice: int = 1


# The operator's service windows (the seed): first choice Tuesday 13-16, Thursday 8-12,
# Friday 12-15; otherwise Monday 10-11, Wednesday 14-15.
DEFAULT_WINDOWS = (
    Window("tue", 13 * 60, 16 * 60, 1),
    Window("thu", 8 * 60, 12 * 60, 1),
    Window("fri", 12 * 60, 15 * 60, 1),
    Window("mon", 10 * 60, 11 * 60, 2),
    Window("wed", 14 * 60, 15 * 60, 2),
)


@dataclass(frozen=True)
class Service:
    """Battery changes: the weekly battery report on `report_day` at `report_min` lists every
    key at or below `low_soc`; each gets a job in a window, at most `jobs_per_hour` an hour,
    booked by `book_by_min` on the day before its slot or else urgent (a flat battery is
    always urgent). `perform_jobs`: the technician changes the battery at the job's time."""

    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    jobs_per_hour: int = 2
    book_by_min: int = 14 * 60
    report_day: str = "mon"
    report_min: int = 7 * 60
    low_soc: float = 0.15
    perform_jobs: bool = True
    line: int = 0


@dataclass(frozen=True)
class SiteFile:
    name: str
    keys: tuple[SiteKey, ...]
    locks: tuple[SiteLock, ...]
    phones: tuple[Phone, ...] = ()
    climates: dict[str, Climate] = field(default_factory=dict)  # by name; "outdoor" at least
    usage: tuple[Usage, ...] = ()
    validation: Validation = field(default_factory=Validation)
    events: tuple[Event, ...] = ()
    service: Service = field(default_factory=Service)
    seed: int = 0
    start: datetime = datetime(2026, 12, 7)  # aware (UTC) after parsing: local midnight of the first day
    timezone: str = "UTC"
    days: int = DEFAULT_DAYS
    runtime: str = "cpython"
    path: str = "<site>"

    def key(self, name: str) -> SiteKey:
        return next(k for k in self.keys if k.key.id == name)

    def lock(self, name: str) -> SiteLock:
        return next(lock for lock in self.locks if lock.lock.id == name)
