"""A site's climate, as far as a key's battery cares: how cold the mornings get.

The server signs a low-battery threshold into each credential from the coldest temperature
expected before the key's next validation (warning.py), and projects keys' failure dates for
the battery report. Both ask one question of the climate: the coldest temperature of a day.

    daily minimum = the month's mean temperature - daily swing / 2
    in a cold snap (its first to its last day, inclusive): the snap's minimum, if colder

Days are the site's local calendar days. The month's mean is the month's own value (January's
for every day of January): a step at the turn of the month, no interpolation, so a file's
figures are the ones used. `from_annual` gives the twelve values from an annual mean and an
amplitude (coldest in January, warmest in July) for a site with no monthly table at hand.
"""

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = 12
COLDEST_C = -80.0  # colder than any inhabited site's record (Oymyakon, -67.7 degC): a typo, not weather
WARMEST_C = 60.0
MAX_SWING_K = 50.0


@dataclass(frozen=True)
class ColdSnap:
    """A spell of cold: from `first` to `last` (local dates, inclusive) mornings reach `min_C`."""

    first: date
    last: date
    min_C: float


@dataclass(frozen=True)
class Climate:
    monthly_mean_C: tuple[float, ...]  # January to December, the month's mean temperature [degC]
    daily_swing_K: float = 0.0  # a day's maximum minus its minimum [K]
    cold_snaps: tuple[ColdSnap, ...] = ()

    def __post_init__(self):
        means = tuple(self.monthly_mean_C)
        if len(means) != MONTHS:
            raise ValueError(f"a climate needs {MONTHS} monthly mean temperatures (January to December), got {len(means)}")
        for i, value in enumerate(means):
            _check_C(value, f"monthly_mean_C[{i}]")
        if not _number(self.daily_swing_K) or not 0 <= self.daily_swing_K <= MAX_SWING_K:
            raise ValueError(f"daily_swing_K must be a number from 0 to {MAX_SWING_K:g}, got {self.daily_swing_K!r}")
        for snap in self.cold_snaps:
            if not isinstance(snap.first, date) or not isinstance(snap.last, date) or snap.last < snap.first:
                raise ValueError(f"a cold snap runs from a date to the same or a later date, got {snap.first} to {snap.last}")
            _check_C(snap.min_C, "a cold snap's min_C")
        object.__setattr__(self, "monthly_mean_C", tuple(float(v) for v in means))
        object.__setattr__(self, "daily_swing_K", float(self.daily_swing_K))
        object.__setattr__(self, "cold_snaps", tuple(self.cold_snaps))

    def daily_min_C(self, day: date) -> float:
        """The coldest temperature expected on local day `day` [degC]."""
        low = self.monthly_mean_C[day.month - 1] - self.daily_swing_K / 2
        for snap in self.cold_snaps:
            if snap.first <= day <= snap.last:
                low = min(low, snap.min_C)
        return low

    def coldest_C(self, first: date, last: date) -> float:
        """The coldest daily minimum from `first` to `last`, inclusive [degC]."""
        days = (last - first).days
        if days < 0:
            raise ValueError(f"{last} is before {first}")
        return min(self.daily_min_C(first + timedelta(days=i)) for i in range(days + 1))

    def to_json(self) -> str:
        return json.dumps(
            {
                "monthly_mean_C": list(self.monthly_mean_C),
                "daily_swing_K": self.daily_swing_K,
                "cold_snaps": [[s.first.isoformat(), s.last.isoformat(), s.min_C] for s in self.cold_snaps],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "Climate":
        d = json.loads(text)
        snaps = tuple(ColdSnap(date.fromisoformat(a), date.fromisoformat(b), float(c)) for a, b, c in d["cold_snaps"])
        return cls(tuple(d["monthly_mean_C"]), d["daily_swing_K"], snaps)


def from_annual(mean_C: float, amplitude_K: float = 0.0) -> tuple[float, ...]:
    """Twelve monthly means from an annual mean and amplitude: a cosine, coldest in January
    (mean - amplitude) and warmest in July (mean + amplitude), as in the northern temperate
    zone. A site with its coldest month elsewhere gives the twelve values instead."""
    _check_C(mean_C, "mean_C")
    if not _number(amplitude_K) or not 0 <= amplitude_K <= (WARMEST_C - COLDEST_C) / 2:
        raise ValueError(f"amplitude_K must be a number of at least 0, got {amplitude_K!r}")
    return tuple(mean_C - amplitude_K * math.cos(2 * math.pi * m / MONTHS) for m in range(MONTHS))


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_C(value, what):
    if not _number(value) or not COLDEST_C <= value <= WARMEST_C:
        raise ValueError(f"{what} must be a temperature from {COLDEST_C:g} to {WARMEST_C:g} degC, got {value!r}")
