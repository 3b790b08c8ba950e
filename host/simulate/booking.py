"""Battery-change jobs booked into the operator's service windows (the seed's rules, model.Service).

A window is cut into whole-hour slots (tue 13-16: 13:00, 14:00, 15:00), each taking at most
`jobs_per_hour` jobs. A slot must be booked by `book_by_min` (14:00) on the day before it, so a
report made on Monday after 14:00 can no longer book Tuesday. Slots are offered week by week: a
week's first-choice slots, earliest first, then its second-choice ones, then the next week's.
A flat battery is urgent (a technician goes as soon as one can), and so is a unit whose openings
are predicted to fail before any free slot it could get.

Pure: times are local and naive (the site's wall clock), and nothing here reads a clock or a file.
`Bookings` carries the taken slots from one weekly report to the next.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from .model import Service, Window
from .record import Job, Unit

# datetime.weekday()'s numbering; Window.day uses these names.
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLOT = timedelta(hours=1)

WHY_LOW = "low"
WHY_FLAT = "flat"
WHY_FAILS_FIRST = "fails before the first window"
WHY_NO_WINDOW = "no service window"  # a service without a single whole-hour slot


@dataclass(frozen=True)
class Slot:
    start: datetime  # local, naive, on a whole hour
    window: Window


@dataclass
class Bookings:
    """The slots already taken, across weeks, and each key's regular job still to come, so the
    next week's report neither overfills a slot nor books a key twice."""

    taken: Counter[datetime] = field(default_factory=Counter)
    by_key: dict[str, Job] = field(default_factory=dict)

    def free(self, slot: Slot, service: Service) -> bool:
        return self.taken[slot.start] < service.jobs_per_hour

    def take(self, slot: Slot, job: Job) -> None:
        self.taken[slot.start] += 1
        self.by_key[job.key] = job

    def pending(self, key: str, now: datetime) -> Job | None:
        """`key`'s regular job, if it is still ahead of `now`."""
        job = self.by_key.get(key)
        return job if job is not None and job.start > now else None

    def release(self, key: str, now: datetime) -> None:
        """Give back `key`'s slot if its job is still ahead; a past job stays counted where it was."""
        job = self.pending(key, now)
        self.by_key.pop(key, None)
        if job is not None:
            self.taken[job.start] -= 1


def window_label(window: Window) -> str:
    """'tue 13-16'; minutes only where a bound is not on the hour ('thu 8:30-12')."""

    def hour(minute: int) -> str:
        return f"{minute // 60}" if minute % 60 == 0 else f"{minute // 60}:{minute % 60:02d}"

    return f"{window.day} {hour(window.from_min)}-{hour(window.to_min)}"


def window_slot_starts(window: Window, day: date) -> list[datetime]:
    """The whole hours that fit entirely inside `window` on `day`."""
    first_h = -(-window.from_min // 60)  # a window from 8:30 starts its first slot at 9:00
    last_h = window.to_min // 60 - 1
    return [datetime.combine(day, time(h)) for h in range(first_h, last_h + 1)]


def booking_deadline(slot_start: datetime, service: Service) -> datetime:
    """The last moment a slot can be booked: `book_by_min` on the day before it."""
    day_before = slot_start.date() - timedelta(days=1)
    return datetime.combine(day_before, time()) + timedelta(minutes=service.book_by_min)


def bookable(slot_start: datetime, now: datetime, service: Service) -> bool:
    """In time for the booking deadline (14:00:00 the day before is in time, 14:00:01 is not)."""
    return now <= booking_deadline(slot_start, service)


def week_slots(monday: date, service: Service) -> list[Slot]:
    """A week's slots in the order they are filled: first choice before second (and so on),
    earliest first within a choice."""
    slots = [
        Slot(start, window)
        for window in service.windows
        for start in window_slot_starts(window, monday + timedelta(days=DAY_NAMES.index(window.day)))
    ]
    return sorted(slots, key=lambda slot: (slot.window.choice, slot.start))


def slots_from(now: datetime, service: Service) -> Iterator[Slot]:
    """Every slot still bookable at `now`, in the order they are filled, week after week (endless
    while the service has a slot at all)."""
    monday = now.date() - timedelta(days=now.weekday())
    week = week_slots(monday, service)
    if not week:
        return
    while True:
        for slot in week:
            if bookable(slot.start, now, service):
                yield slot
        monday += timedelta(days=7)
        week = week_slots(monday, service)


def serves(slot_start: datetime, needed_by: datetime | None) -> bool:
    """A slot is in time for a unit only if the whole hour ends before its openings fail: the
    technician may come at any time within it."""
    return needed_by is None or slot_start + SLOT <= needed_by


def unit_order(unit: Unit) -> tuple[bool, float, str]:
    return (not unit.flat, unit.soc, unit.key)


def first_free_slot(now: datetime, service: Service, bookings: Bookings, needed_by: datetime | None) -> Slot | None:
    """The next free slot in filling order; if that is too late for `needed_by`, the earliest
    free slot that is still in time (a second-choice slot may come before a first-choice one);
    None when none is."""
    if service.jobs_per_hour < 1:
        return None
    slots = (slot for slot in slots_from(now, service) if bookings.free(slot, service))
    preferred = next(slots, None)
    if preferred is None or serves(preferred.start, needed_by):
        return preferred
    assert needed_by is not None
    in_time: list[Slot] = []
    for slot in slots_from(now, service):
        # A week's slots all start at or after its Monday's midnight: later weeks cannot serve.
        if datetime.combine(slot.start.date() - timedelta(days=slot.start.weekday()), time()) > needed_by:
            break
        if bookings.free(slot, service) and serves(slot.start, needed_by):
            in_time.append(slot)
    return min(in_time, key=lambda slot: slot.start, default=None)


def urgent_job(unit: Unit, now: datetime, why: str) -> Job:
    return Job(unit.key, now, urgent=True, why=why)


def book(
    units: Iterable[Unit],
    now: datetime,
    service: Service,
    bookings: Bookings,
    needed_by: Mapping[str, datetime] | None = None,
) -> list[Job]:
    """A job for each unit, in `unit_order`, taking slots in `bookings`. A unit that already has a
    regular job ahead keeps it when it is still in time; a flat one gives its slot back."""
    needed_by = needed_by or {}
    jobs: list[Job] = []
    for unit in sorted(units, key=unit_order):
        fails_at = needed_by.get(unit.key)
        pending = bookings.pending(unit.key, now)
        if unit.flat:
            bookings.release(unit.key, now)
            jobs.append(urgent_job(unit, now, WHY_FLAT))
            continue
        if pending is not None and serves(pending.start, fails_at):
            jobs.append(pending)
            continue
        bookings.release(unit.key, now)
        slot = first_free_slot(now, service, bookings, fails_at)
        if slot is None:
            jobs.append(urgent_job(unit, now, WHY_NO_WINDOW if fails_at is None else WHY_FAILS_FIRST))
            continue
        job = Job(unit.key, slot.start, urgent=False, why=WHY_LOW, window=window_label(slot.window))
        bookings.take(slot, job)
        jobs.append(job)
    return jobs
