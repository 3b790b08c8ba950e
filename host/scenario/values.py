"""Text to value for scenario files: durations, times of day, ISO times, time zones.

Each function raises ValueError with a reason a person can act on; the parser adds the line.
They read the scalar's text as written, never YAML's guess at its type: YAML 1.1 reads an
unquoted `16:00` as the integer 960 and `07:00` as a string.
"""

import re
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_DURATION = re.compile(rf"(?:({_NUMBER})d)?(?:({_NUMBER})h)?(?:({_NUMBER})m)?(?:({_NUMBER})s)?")
_UNIT_S = (86400, 3600, 60, 1)
# A century of virtual time is more than any scenario needs, and keeps datetimes in range.
MAX_DURATION_S = 100 * 365 * 86400
_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
# Starts outside this range would overflow the five-year card default or a long advance.
_FIRST_START = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_START = datetime(2100, 1, 1, tzinfo=UTC)

DURATION_FORM = "a duration such as 90s, 15m, 2h, 10d, 1d2h or a number of seconds"


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `10d`, `1d2h` (units in that order), or plain seconds; to seconds."""
    text = text.strip()
    if re.fullmatch(_NUMBER, text):
        seconds = float(text)
    else:
        m = _DURATION.fullmatch(text)
        if not text or m is None:
            raise ValueError(f"{text!r} is not {DURATION_FORM}")
        seconds = sum(float(part) * unit for part, unit in zip(m.groups(), _UNIT_S, strict=True) if part is not None)
    if not seconds <= MAX_DURATION_S:
        raise ValueError(f"{text!r} is longer than the longest duration, 36500d")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest form parse_duration reads back: 93600 -> '1d2h', 0 -> '0s'."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    parts = []
    for unit, size in zip("dhms", _UNIT_S, strict=True):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_time_of_day(text: str) -> int:
    """ "07:00" to minutes since midnight; "24:00" (the end of the day) is 1440."""
    text = text.strip()
    if text == "24:00":
        return 24 * 60
    m = _TIME_OF_DAY.fullmatch(text)
    if m is None:
        raise ValueError(f'{text!r} is not a time of day HH:MM, e.g. "07:00" (00:00 to 24:00)')
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_timezone(name: str) -> tzinfo:
    if name in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Stockholm, or UTC") from None


def parse_time(text: str, local: tzinfo) -> datetime:
    """An ISO time to an aware UTC datetime; without an offset it is in the site's local time."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO time such as 2026-01-05T08:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=local)
    try:
        t = t.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{text!r} is out of range") from None
    if not _FIRST_START <= t < _LAST_START:
        raise ValueError(f"{text!r} is outside 1970 to 2099")
    return t


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date such as 2030-12-31") from None


def years_later(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
