"""Who does what when: a site file's usage turned into timed actions, day by day, from the seed.

Every key draws from its own random stream (seeded with the site's seed and the key's name),
and so does every event: a key's days are the same whichever other keys are simulated beside
it, which is what lets a site be split along the connected components of its key-lock graph
(ensemble.py) with the same results as one process. Actions sort by (time, rank, name, n), so
ties never depend on what else is in the heap.
"""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import Event, SiteFile

DAY_S = 86400
HOUR_S = 3600
KEY_SAMPLE_MIN = 12 * 60  # each key's charge and temperature, once a day at noon
LOCK_SAMPLE_EVERY_H = 6  # the locks' temperatures, every six hours (and around a warming)
# Validity of a credential; the server's VALIDATION_S (a forgetful holder lets it lapse).
CREDENTIAL_DAYS = 10

# Ranks order actions at the same second: the new day, the hour's temperatures, the operator,
# the holders.
RANKS = {"day": 0, "tick": 1, "sample": 2, "block": 3, "unblock": 3, "battery": 4, "job": 4, "validate": 5, "warm": 6}
DEFAULT_RANK = 7  # openings, a key left in or taken out


@dataclass(frozen=True, order=True)
class Action:
    time_s: float
    rank: int
    name: str  # the key (or lock, for lock-only actions) it concerns
    n: int  # tie-break among one name's actions at one second
    kind: str
    lock: str = ""
    by: str = "holder"
    value: float = 0.0


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: means here are a few a day)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Calendar:
    """The site's local days as Unix seconds (DST-correct at each day's midnight)."""

    def __init__(self, spec: SiteFile):
        self.tz = ZoneInfo(spec.timezone)
        self.first: date = spec.start.astimezone(self.tz).date()

    def date(self, day: int) -> date:
        return self.first + timedelta(days=day)

    def at_s(self, day: int, minutes: float) -> float:
        midnight = datetime.combine(self.date(day), time(), self.tz).timestamp()
        return midnight + minutes * 60

    def local(self, time_s: float) -> datetime:
        """Local wall time, naive (as the service windows are written)."""
        return datetime.fromtimestamp(time_s, self.tz).replace(tzinfo=None)

    def utc_s(self, local: datetime) -> float:
        return local.replace(tzinfo=self.tz).timestamp()


def _stream(seed: int, *parts) -> random.Random:
    return random.Random("/".join([str(seed), *map(str, parts)]))


def forgets(spec: SiteFile, key: str) -> bool:
    """Whether this key's holder is one of the forgetful (drawn once, from the key's name)."""
    return _stream(spec.seed, "forget", key).random() < spec.validation.forget_share


class Planner:
    """Generates each day's actions for the keys and locks of `keys`/`locks` (a part of the site)."""

    def __init__(self, spec: SiteFile, keys: list[str], locks: list[str]):
        self.spec = spec
        self.cal = Calendar(spec)
        self.keys = keys
        self.locks = locks
        self.own = set(keys) | set(locks)
        self._rng = {k: _stream(spec.seed, "key", k) for k in keys}
        self._event_rng = {i: _stream(spec.seed, "event", i) for i in range(len(spec.events))}
        usage = {u.group: u for u in spec.usage}
        self._usage = {k: [usage[g] for g in spec.key(k).groups if g in usage] for k in keys}
        self._group_locks: dict[str, list[str]] = {}
        for lock in spec.locks:  # every lock of the group, in file order: the draw does not depend on the part
            if lock.lock.group:
                self._group_locks.setdefault(lock.lock.group, []).append(lock.lock.id)
        self._next_validation = dict.fromkeys(keys, 0)  # day of each key's next validation
        self._forgets = {k: forgets(spec, k) for k in keys}
        self._away = self._away_intervals()

    def _away_intervals(self) -> dict[str, list[tuple[float, float]]]:
        """When a key is not with its holder: lost (until found) or left in a lock."""
        away: dict[str, list[tuple[float, float]]] = {}
        for e in self.spec.events:
            start = self.cal.at_s(e.day, e.at_min)
            if e.kind == "lost" and e.key:
                end = self.cal.at_s(e.until_day, e.at_min) if e.until_day is not None else math.inf
                away.setdefault(e.key, []).append((start, end))
            elif e.kind == "left_in_lock" and e.key:
                away.setdefault(e.key, []).append((start, start + e.hours * HOUR_S))
        return away

    def _is_away(self, key: str, time_s: float) -> bool:
        return any(a <= time_s < b for a, b in self._away.get(key, ()))

    def day(self, day: int) -> list[Action]:
        out: list[Action] = []
        spec, cal = self.spec, self.cal
        weekday = cal.date(day).strftime("%a").lower()
        for hour in range(24):
            out.append(Action(cal.at_s(day, hour * 60), RANKS["tick"], "", hour, "tick"))
        out.append(Action(cal.at_s(day, KEY_SAMPLE_MIN), RANKS["sample"], "", 0, "sample"))
        for key in self.keys:
            rng = self._rng[key]
            n = 0
            if self._next_validation[key] == day:
                v = spec.validation
                # day 0: the keys are handed out validated, before anyone uses them
                at = cal.at_s(day, 1 if day == 0 else rng.uniform(v.from_min, v.to_min))
                if not self._is_away(key, at):
                    out.append(Action(at, RANKS["validate"], key, n, "validate"))
                    n += 1
                gap = CREDENTIAL_DAYS + v.late_days if self._forgets[key] else v.every_days
                self._next_validation[key] = day + gap
            for usage in self._usage[key]:
                # Draws happen whatever the day, so a key's stream stays aligned with the calendar.
                count = poisson(rng, usage.openings_per_day)
                times = sorted(rng.uniform(usage.from_min, usage.to_min) for _ in range(count))
                locks = [rng.choice(self._group_locks[usage.group]) for _ in range(count)]
                if weekday not in usage.days:
                    continue
                for minutes, lock in zip(times, locks, strict=True):
                    at = cal.at_s(day, minutes)
                    if not self._is_away(key, at):
                        out.append(Action(at, DEFAULT_RANK, key, n, "open", lock))
                        n += 1
        for i, e in enumerate(spec.events):
            out += self._event_actions(i, e, day)
        return out

    def _event_actions(self, i: int, e: Event, day: int) -> list[Action]:
        cal, at = self.cal, self.cal.at_s(e.day, e.at_min)
        name = e.key or e.lock or ""
        base = 1000 + 10 * i  # after a key's own actions of the second
        if e.kind == "lost" and e.key:
            # The operator blocks and unblocks on the server of every part of a split site, so
            # each part's blocklist is the whole site's; the finder's tries are the key's part's.
            out = []
            if day == e.day:
                out.append(Action(at + e.block_after_h * HOUR_S, RANKS["block"], name, base, "block"))
            if e.until_day is not None and day == e.until_day:
                out.append(Action(at, RANKS["unblock"], name, base + 1, "unblock"))
            lost_until = e.until_day if e.until_day is not None else math.inf
            if e.key in self.own and e.day <= day < lost_until:
                rng = self._event_rng[i]
                for j in range(poisson(rng, e.tries_per_day)):
                    t = cal.at_s(day, rng.uniform(8 * 60, 20 * 60))
                    groups = self.spec.key(e.key).groups
                    lock = rng.choice([lock for g in groups for lock in self._group_locks.get(g, [])])
                    if t > at:
                        out.append(Action(t, DEFAULT_RANK, name, base + 2 + j, "open", lock, by="finder"))
            return out
        if day != e.day or (e.key or e.lock) not in self.own:
            return []
        if e.kind == "left_in_lock":
            return [
                Action(at, DEFAULT_RANK, name, base, "leave", e.lock or ""),
                Action(at + e.hours * HOUR_S, DEFAULT_RANK, name, base + 1, "take_out", e.lock or ""),
            ]
        if e.kind == "warmed":
            return [Action(at, RANKS["warm"], e.lock or "", base, "warm", e.lock or "", value=e.to_C)] + (
                [Action(at + 60, DEFAULT_RANK, e.key, base + 1, "open", e.lock or "")] if e.key else []
            )
        if e.kind == "battery_change":
            return [Action(at, RANKS["battery"], name, base, "battery")]
        return []


def temperature_C(climate, cal: Calendar, day: int, hour: int) -> float:
    """The air at local hour `hour` of day `day`: the day's minimum (the climate's, a cold snap's)
    at 03:00, rising by the daily swing to its maximum at 15:00."""
    low = climate.daily_min_C(cal.date(day))
    return low + climate.daily_swing_K / 2 * (1 + math.sin(2 * math.pi * (hour - 9) / 24))
