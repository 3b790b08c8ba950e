"""Weekly schedules: parsed from the scenario form, converted to the credential's UTC rights.

A grant's schedule is stated in the site's local time ({days: [mon, ...], from: "07:00",
to: "16:00"}); the lock has no time zone and compares the key's UTC time, so the server
converts at issue time with the site's UTC offset at that moment. Time is handled as minutes
of the week (0 = Monday 00:00), so a shift past midnight, or past Sunday into Monday, is
plain modular arithmetic.
"""

import re
from dataclasses import dataclass

from ...protocol.codes import DAY_NAMES, Weekday

DAY_BITS = tuple(int(Weekday[d.upper()]) for d in DAY_NAMES)  # the credential's day bits
ALL_DAYS = int(Weekday.ALL)
DAY_MIN = 1440
WEEK_MIN = 7 * DAY_MIN
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2})$")


@dataclass(frozen=True)
class Schedule:
    """A weekly window in local time. `to_min < from_min` runs past midnight into the next
    day (a night shift); each day in `days` (DAY_* bits) is a day the window starts on."""

    days: int
    from_min: int
    to_min: int

    def local_intervals(self):
        """The window as [start, end) minutes of the local week; end may pass WEEK_MIN."""
        length_min = (self.to_min - self.from_min) % DAY_MIN or DAY_MIN
        return [
            (d * DAY_MIN + self.from_min, d * DAY_MIN + self.from_min + length_min) for d, bit in enumerate(DAY_BITS) if self.days & bit
        ]


ALWAYS = Schedule(ALL_DAYS, 0, DAY_MIN)


def _parse_time(value, what, allow_24):
    if not isinstance(value, str):
        # Unquoted 16:00 in YAML 1.1 becomes the integer 960: say so instead of guessing.
        raise ValueError(f'schedule {what!r} must be a quoted "HH:MM" string, got {value!r}')
    m = _TIME.match(value)
    if not m:
        raise ValueError(f'schedule {what!r} must look like "07:00", got {value!r}')
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"schedule {what!r} is not a time of day: {value!r}")
    return hours * 60 + minutes


def _minutes(value, what, allow_24):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= (DAY_MIN if allow_24 else DAY_MIN - 1):
        raise ValueError(f"schedule {what} must be whole minutes of the day, got {value!r}")
    return value


def parse(schedule):
    """A grant's schedule -> Schedule; None means always. Raises ValueError on anything else.

    Either the scenario form, a mapping {days: [mon, ...], from: "07:00", to: "16:00"}
    (`days` defaults to every day, `from` to "00:00", `to` to "24:00"), or an object with
    `days` (day names), `from_min` and `to_min` (minutes, as the scenario parser gives). A
    `to` earlier than `from` crosses midnight; equal times are refused (ambiguous).
    """
    if schedule is None:
        return ALWAYS
    if isinstance(schedule, dict):
        unknown = set(schedule) - {"days", "from", "to"}
        if unknown:
            raise ValueError(f"unknown schedule field(s): {', '.join(sorted(map(str, unknown)))}")
        days_in = schedule.get("days", DAY_NAMES)
        from_min = _parse_time(schedule.get("from", "00:00"), "from", allow_24=False)
        to_min = _parse_time(schedule.get("to", "24:00"), "to", allow_24=True)
    elif all(hasattr(schedule, a) for a in ("days", "from_min", "to_min")):
        days_in = schedule.days
        from_min = _minutes(schedule.from_min, "from_min", allow_24=False)
        to_min = _minutes(schedule.to_min, "to_min", allow_24=True)
    else:
        raise ValueError(f"a schedule is a mapping of days, from and to, got {schedule!r}")
    if isinstance(days_in, str) or not isinstance(days_in, (list, tuple)) or not days_in:
        raise ValueError(f"schedule 'days' must be a non-empty list such as [mon, tue], got {days_in!r}")
    days = 0
    for day in days_in:
        if not isinstance(day, str) or day.lower() not in DAY_NAMES:
            raise ValueError(f"unknown day {day!r}: use {', '.join(DAY_NAMES)}")
        days |= DAY_BITS[DAY_NAMES.index(day.lower())]
    if from_min == to_min:
        raise ValueError(f"a schedule from {from_min} to {to_min} minutes is empty")
    return Schedule(days, from_min, to_min)


def _merge(intervals):
    out = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def utc_windows(schedules, offset_min):
    """The union of `schedules` (local) as (days, from_min, to_min) in UTC, fewest rows.

    `offset_min` is the site's UTC offset (local = UTC + offset). Each local interval is
    shifted, cut at UTC midnights, merged per day, and days with the same window share one
    row: a window that crosses midnight after the shift becomes two rows.
    """
    per_day = [[] for _ in DAY_NAMES]
    for sched in schedules:
        for start, end in sched.local_intervals():
            start -= offset_min
            end -= offset_min
            # Walk the interval a day at a time (at most 8 pieces): no wrap-around cases.
            while start < end:
                day_start = (start // DAY_MIN) * DAY_MIN
                piece_end = min(end, day_start + DAY_MIN)
                per_day[(day_start // DAY_MIN) % 7].append((start - day_start, piece_end - day_start))
                start = piece_end
    by_window = {}
    for day, intervals in enumerate(per_day):
        for window in _merge(intervals):
            by_window[window] = by_window.get(window, 0) | DAY_BITS[day]
    return sorted((days, lo, hi) for (lo, hi), days in by_window.items())


def allows(windows, utc_week_min):
    """True when minute `utc_week_min` of the UTC week falls in one of `windows`: the
    lock's reading of the rights, used by tests to check conversions."""
    day, minute = divmod(utc_week_min % WEEK_MIN, DAY_MIN)
    return any(days & DAY_BITS[day] and lo <= minute < hi for days, lo, hi in windows)
