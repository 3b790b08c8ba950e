"""What the reports derive from a Run: the facts behind the HTML report's figures and tables
(and anyone else's summary), computed once here so a figure and a table never disagree.

Times stay virtual Unix seconds; `local` turns one into the site's local time.
"""

import bisect
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from .record import Arrival, Attempt, AuditRow, Block, Lapse, Run

DAY_s = 86_400.0
# An audit row is the lock's record of an attempt; the lock stamps it with the time the key
# claimed, which may differ from the emulator's clock by the key's clock error and rounding.
AUDIT_MATCH_s = 120.0
# A battery's trend is fitted over this much of its latest history (since its last change).
TREND_WINDOW_s = 21 * DAY_s


def tz(run: Run) -> ZoneInfo:
    return ZoneInfo(run.timezone)


def local(run: Run, time_s: float) -> datetime:
    return datetime.fromtimestamp(time_s, tz(run))


def end_s(run: Run) -> float:
    return run.start_s + run.days * DAY_s


def monday_of(run: Run, time_s: float) -> date:
    """The local Monday of the week holding `time_s` (the weekly report's week)."""
    day = local(run, time_s).date()
    return day - timedelta(days=day.weekday())


# --- audit: what reached the server, and when ---------------------------------------------


def match_audit(run: Run) -> dict[int, AuditRow]:
    """Attempt index -> the server's audit row of it; attempts missing are not yet at the
    server. Each row matches one attempt: same key, lock and result, the nearest in time
    within AUDIT_MATCH_s."""
    rows: dict[tuple, list[AuditRow]] = {}
    for row in run.audit:
        rows.setdefault((row.key, row.lock, row.result), []).append(row)
    matched: dict[int, AuditRow] = {}
    by_key: dict[tuple, list[int]] = {}
    for i, a in enumerate(run.attempts):
        by_key.setdefault((a.key, a.lock, a.result), []).append(i)
    for k, indices in by_key.items():
        free = sorted(rows.get(k, ()), key=lambda r: r.time_s)
        times = [r.time_s for r in free]
        for i in sorted(indices, key=lambda i: run.attempts[i].time_s):
            t = run.attempts[i].time_s
            at = bisect.bisect_left(times, t)
            near = [j for j in (at - 1, at) if 0 <= j < len(times)]
            best = min(near, key=lambda j: abs(times[j] - t), default=None)
            if best is not None and abs(times[best] - t) <= AUDIT_MATCH_s:
                matched[i] = free.pop(best)
                times.pop(best)
    return matched


def audit_lag_s(row: AuditRow) -> float:
    return row.uploaded_at_s - row.time_s


def worst_audit_lag(run: Run) -> AuditRow | None:
    return max(run.audit, key=audit_lag_s, default=None)


# --- the blocklist and lost keys ------------------------------------------------------------


def arrival_after(run: Run, block: Block, lock: str) -> Arrival | None:
    """The first time `lock` adopted a blocklist holding `block` (its version or a later one)."""
    found = [a for a in run.arrivals if a.lock == lock and a.version >= block.version and a.time_s >= block.time_s]
    return min(found, key=lambda a: a.time_s, default=None)


@dataclass(frozen=True)
class LostAttempt:
    attempt: Attempt
    after_arrival: bool  # the lock already held the blocklist
    audit: AuditRow | None  # None: not yet at the server


@dataclass(frozen=True)
class LockExposure:
    """One lock after a block: when the blocklist arrived (None: never in the run) and every
    attempt of the blocked key at that lock."""

    lock: str
    block_s: float
    arrival: Arrival | None
    attempts: tuple[LostAttempt, ...]

    @property
    def delay_s(self) -> float | None:
        return None if self.arrival is None else self.arrival.time_s - self.block_s


def exposure(run: Run, block: Block, audit: dict[int, AuditRow] | None = None) -> list[LockExposure]:
    """Per lock of the site, for one block: the blocklist's arrival and the blocked key's
    attempts there: every finder's attempt, and every attempt from the block until the key
    was unblocked."""
    audit = match_audit(run) if audit is None else audit
    until_s = math.inf if block.unblocked_s is None else block.unblocked_s
    out = []
    for lock in run.locks:
        arrival = arrival_after(run, block, lock)
        arrived_s = math.inf if arrival is None else arrival.time_s
        attempts = tuple(
            LostAttempt(a, a.time_s >= arrived_s, audit.get(i))
            for i, a in enumerate(run.attempts)
            if a.key == block.key and a.lock == lock and a.time_s < until_s and (a.by == "finder" or a.time_s >= block.time_s)
        )
        out.append(LockExposure(lock, block.time_s, arrival, tuple(sorted(attempts, key=lambda x: x.attempt.time_s))))
    return out


# --- batteries ------------------------------------------------------------------------------


def soc_series(run: Run) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Key -> (time_s, soc), in time order."""
    per: dict[str, list[tuple[float, float]]] = {}
    for s in run.key_samples:
        per.setdefault(s.key, []).append((s.time_s, s.soc))
    out = {}
    for key, rows in per.items():
        arr = np.array(sorted(rows))
        out[key] = (arr[:, 0], arr[:, 1])
    return out


def crossing_horizon_s(run: Run) -> float:
    """How far past the run's end a predicted crossing is worth showing: half the run, at least
    two weeks and at most two months (past that a straight trend says little)."""
    return end_s(run) + min(max(14.0, run.days / 2), 60.0) * DAY_s


def predicted_crossing_s(time_s: np.ndarray, soc: np.ndarray, low_soc: float) -> float | None:
    """When the key's charge reaches `low_soc` on its trend: a straight line fitted to the
    last TREND_WINDOW_s since its last battery change (a rise). The last sample's time when
    it is already at or below; None when the trend does not fall."""
    if len(time_s) == 0:
        return None
    if soc[-1] <= low_soc:
        return float(time_s[-1])
    rises = np.flatnonzero(np.diff(soc) > 0.05)
    first = rises[-1] + 1 if len(rises) else 0
    keep = (np.arange(len(time_s)) >= first) & (time_s >= time_s[-1] - TREND_WINDOW_s)
    t, s = time_s[keep], soc[keep]
    if len(t) < 2 or t[-1] - t[0] <= 0:
        return None
    slope_per_s, _ = np.polyfit(t - t[-1], s, 1)
    if slope_per_s >= 0:
        return None
    return float(t[-1] + (low_soc - s[-1]) / slope_per_s)


# --- openings, lapses, headlines --------------------------------------------------------------


def weekly_outcomes(run: Run) -> tuple[list[date], dict[str, list[int]]]:
    """Mondays of the run and, per outcome ("granted" or a denial reason), the count per week."""
    first, last = monday_of(run, run.start_s), monday_of(run, end_s(run) - 1)
    mondays = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    index = {m: i for i, m in enumerate(mondays)}
    counts: dict[str, list[int]] = {}
    for a in run.attempts:
        label = "granted" if a.result == "granted" else (a.reason or "denied")
        counts.setdefault(label, [0] * len(mondays))[index[monday_of(run, a.time_s)]] += 1
    return mondays, counts


def lapse_s(run: Run, lapse: Lapse) -> float:
    return (end_s(run) if lapse.to_s is None else lapse.to_s) - lapse.from_s


@dataclass(frozen=True)
class Headlines:
    openings: int
    denials: int
    denials_by_reason: dict[str, int]
    keys_warned: int  # keys on any weekly report
    jobs_booked: int
    urgent_jobs: int
    worst_audit_lag: AuditRow | None
    not_at_server: int  # attempts a lock recorded whose audit has not reached the server
    longest_lapse: Lapse | None


def headlines(run: Run, audit: dict[int, AuditRow] | None = None) -> Headlines:
    audit = match_audit(run) if audit is None else audit
    jobs = [j for w in run.weekly for j in w.jobs]
    return Headlines(
        openings=sum(a.result == "granted" for a in run.attempts),
        denials=sum(a.result != "granted" for a in run.attempts),
        denials_by_reason=dict(Counter(a.reason or "denied" for a in run.attempts if a.result != "granted").most_common()),
        keys_warned=len({u.key for w in run.weekly for u in w.units}),
        jobs_booked=len(jobs),
        urgent_jobs=sum(j.urgent for j in jobs),
        worst_audit_lag=worst_audit_lag(run),
        not_at_server=sum(1 for i, a in enumerate(run.attempts) if a.at_lock and i not in audit),
        longest_lapse=max(run.lapses, key=lambda lapse: lapse_s(run, lapse), default=None),
    )


def duration(seconds: float) -> str:
    """A duration as a person says it: "45 s", "12 min", "3 h 05 min", "2 d 4 h"."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
