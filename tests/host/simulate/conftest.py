"""A synthetic Run shaped like a real one, so the reports are tested without running a site.

20 keys, 8 locks, 60 days in Helsinki (UTC+2, so a local date differs from the UTC one
late in the evening). Key K07 is lost on day 30 and blocked on day 31 (blocklist version 2);
its finder tries every lock before and after the blocklist reaches it, and lock L8, which no
other key visits after the loss, never gets the blocklist nor sends its audit. K12's credential
lapses from day 15 to day 18, K15's from day 55 to the end. Padlock L3 is warmed on day 20.
Batteries drain at different rates; a Monday report lists the keys at or below 15 % and books
their jobs, and the technician changes the battery at the job's time.

Everything the tests check is in LOST (the ground truth of the lost key) or computable from
the Run; the numbers are drawn from a fixed seed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from keylock.host.simulate.record import (
    Arrival,
    Attempt,
    AuditRow,
    Block,
    Job,
    JobDone,
    KeySample,
    Lapse,
    LockSample,
    Run,
    Unit,
    ValidationRecord,
    WeeklyReport,
)

TZ = "Europe/Helsinki"
DAYS = 60
START = datetime(2026, 12, 7, tzinfo=ZoneInfo(TZ))  # a Monday, local midnight
START_s = START.timestamp()
DAY_s = 86_400.0
KEYS = [f"K{i:02d}" for i in range(1, 21)]
LOCKS = [f"L{i}" for i in range(1, 9)]
ODD_HOLDER = "Anna <O'Brien> & Sons"  # every name is escaped in the HTML
ODD_LOCK = "L5"
ODD_LOCK_KIND = "padlock <yard> & gate"
LOST_KEY = "K07"
LOST_s = START_s + 30 * DAY_s + 10 * 3600  # day 30, 10:00 local
BLOCK_s = START_s + 31 * DAY_s + 9 * 3600  # day 31, 09:00 local
NEVER_REACHED = "L8"
WARMED_LOCK = "L3"
WARMED_s = START_s + 20 * DAY_s + 11 * 3600
LOW_SOC = 0.15


def t_local(day: int, hour: float) -> float:
    return START_s + day * DAY_s + hour * 3600


# When the blocklist (version 2) reaches each lock, hours after the block; L8 never.
ARRIVAL_h = {"L1": 2.0, "L2": 5.5, "L3": 26.0, "L4": 0.75, "L5": 49.0, "L6": 8.0, "L7": 71.0}
# The finder's tries at each lock: hours after the block (negative: before it).
FINDER_h = {lock: (-18.0, -3.0, 1.0, 12.0, 30.0, 60.0, 90.0) for lock in LOCKS}


@dataclass(frozen=True)
class LostTruth:
    key: str
    block_s: float
    arrival_s: dict[str, float | None]
    # (lock, time_s, result, reason, uploaded_at_s or None)
    attempts: tuple[tuple[str, float, str, str | None, float | None], ...]


def build_run() -> tuple[Run, LostTruth]:
    rng = np.random.default_rng(15)
    run = Run(site="depot <north>", seed=15, start_s=START_s, days=DAYS, timezone=TZ, runtime="cpython", low_soc=LOW_SOC)
    for i, key in enumerate(KEYS):
        run.keys[key] = ODD_HOLDER if key == "K03" else f"holder {i + 1}"
    for i, lock in enumerate(LOCKS):
        run.locks[lock] = ODD_LOCK_KIND if lock == ODD_LOCK else ("padlock" if i % 2 else "cylinder")
        run.groups[lock] = "yard" if i < 4 else "office"

    # Batteries: a straight drain per key (some cross 15 % within the run), reset by a job.
    drain_per_day = {key: 0.004 + 0.016 * (i % 7) / 6 + 0.001 * rng.random() for i, key in enumerate(KEYS)}
    soc0 = {key: 0.35 + 0.6 * rng.random() for key in KEYS}
    changes: dict[str, float] = {}  # key -> time of its battery change

    def soc_at(key: str, time_s: float) -> float:
        since_s, start_soc = (changes[key], 1.0) if key in changes and time_s >= changes[key] else (START_s, soc0[key])
        return max(0.0, start_soc - drain_per_day[key] * (time_s - since_s) / DAY_s)

    def ambient_C(time_s: float) -> float:
        return -8.0 + 6.0 * np.sin(2 * np.pi * ((time_s - START_s) / DAY_s - 0.4)) - 0.1 * (time_s - START_s) / DAY_s

    # Weekly reports and jobs: every Monday at 07:00, keys at or below 15 %; a job on Tuesday
    # 13:00 (two an hour), urgent when flat.
    for week in range(0, DAYS // 7 + 1):
        report_s = t_local(7 * week, 7.0)
        if report_s >= START_s + DAYS * DAY_s:
            break
        units, jobs = [], []
        low = [k for k in KEYS if soc_at(k, report_s) <= LOW_SOC and k not in changes]
        for n, key in enumerate(low):
            flat = soc_at(key, report_s) < 0.06
            units.append(Unit(key, run.keys[key], round(soc_at(key, report_s), 3), flat))
            if flat:
                start = datetime.fromtimestamp(report_s, ZoneInfo(TZ)).replace(tzinfo=None)
                jobs.append(Job(key, start, True, "flat"))
                done_s = report_s + 3 * 3600
            else:
                slot = START + timedelta(days=7 * week + 1, hours=13 + n // 2)
                jobs.append(Job(key, slot.replace(tzinfo=None), False, "low", "tue 13-16"))
                done_s = slot.timestamp() + 15 * 60
            changes[key] = done_s
            run.jobs_done.append(JobDone(done_s, key, round(soc_at(key, done_s - 1), 3), flat))
        monday = (START + timedelta(days=7 * week)).date()
        run.weekly.append(WeeklyReport(monday, report_s, tuple(units), tuple(jobs)))

    # Samples: keys daily at noon, locks every 6 hours.
    for day in range(DAYS):
        for key in KEYS:
            t = t_local(day, 12.0)
            run.key_samples.append(KeySample(t, key, round(soc_at(key, t), 4), round(ambient_C(t) + 12.0, 2)))
        for hour in (0, 6, 12, 18):
            t = t_local(day, hour)
            for lock in LOCKS:
                amb = ambient_C(t) + LOCKS.index(lock) - 4.0  # shade or sun
                body = amb + (55.0 if lock == WARMED_LOCK and day == 20 and hour == 12 else 0.0)
                elec = amb + (72.0 if lock == WARMED_LOCK and day == 20 and hour == 12 else 0.0)
                run.lock_samples.append(LockSample(t, lock, round(body, 2), round(elec, 2), round(amb, 2)))
    run.warmed.append((WARMED_s, WARMED_LOCK, 48.0))

    # Lapses and validations.
    run.lapses += [Lapse("K12", t_local(15, 0.0), t_local(18, 7.5)), Lapse("K15", t_local(55, 0.0), None)]
    for key in KEYS:
        for day in range(0, DAYS, 7):
            run.validations.append(ValidationRecord(t_local(day, 7.25), key, None, int(t_local(day + 10, 7.25))))
    run.validations.append(ValidationRecord(t_local(15, 7.3), "K12", "expired"))

    def lapsed(key: str, time_s: float) -> bool:
        return any(lp.key == key and lp.from_s <= time_s < (lp.to_s or float("inf")) for lp in run.lapses)

    def audit_lag_s() -> float:
        return float(rng.exponential(6 * 3600))

    # Holders' openings: working days, 7-16 local, ~2 a day per key (the lost key stops on day 30).
    for day in range(DAYS):
        if (START + timedelta(days=day)).weekday() >= 5:
            continue
        for key in KEYS:
            for _ in range(rng.poisson(2.0)):
                t = t_local(day, 7.0 + 9.0 * rng.random())
                if key == LOST_KEY and t >= LOST_s:
                    continue
                lock = LOCKS[int(rng.integers(0, 7))]  # L8 only by the lost key's finder
                soc = soc_at(key, t)
                warm = lock == WARMED_LOCK and abs(t - WARMED_s) < 1800
                reason = "validity_expired" if lapsed(key, t) else "low_battery" if soc < 0.02 else "over_temperature" if warm else None
                amb = ambient_C(t)
                energy = 0.013 * (1.0 + 0.02 * max(0.0, -amb)) * (1.0 + 0.1 * rng.standard_normal())
                run.attempts.append(
                    Attempt(
                        t, key, lock, "denied" if reason else "granted", reason, round(energy, 5), 2.6, round(soc, 4),
                        round(amb + 12.0, 2), round(amb, 2), 1,
                    )
                )  # fmt: skip
                run.audit.append(AuditRow(t, t + audit_lag_s(), key, lock, "denied" if reason else "granted", reason))
    run.attempts.append(Attempt(WARMED_s, "K01", WARMED_LOCK, "denied", "over_temperature", 0.006, 2.7, 0.5, 10.0, 86.0, 1))
    run.audit.append(AuditRow(WARMED_s, WARMED_s + 3600, "K01", WARMED_LOCK, "denied", "over_temperature"))

    # The lost key: blocked, the blocklist carried to each lock by another key, the finder's tries.
    run.blocks.append(Block(BLOCK_s, LOST_KEY, 2))
    run.arrivals.append(Arrival(t_local(0, 9.0), "L1", 1, "K01"))  # an older version: not this block's arrival
    arrival_s: dict[str, float | None] = {lock: None for lock in LOCKS}
    for n, (lock, hours) in enumerate(ARRIVAL_h.items()):
        arrival_s[lock] = BLOCK_s + hours * 3600
        run.arrivals.append(Arrival(BLOCK_s + hours * 3600, lock, 2, KEYS[n + 10]))  # carried by holders, not by the lost key
    run.arrivals.append(Arrival(BLOCK_s + 100 * 3600, "L1", 3, "K02"))  # a later version: not the first
    truth = []
    for lock, hours in FINDER_h.items():
        for h in hours:
            t = BLOCK_s + h * 3600
            arrived = arrival_s[lock] is not None and t >= arrival_s[lock]
            result, reason = ("denied", "blocked") if arrived else ("granted", None)
            uploaded = None if lock == NEVER_REACHED else t + 3600 * (1.0 + h % 5)
            run.attempts.append(Attempt(t, LOST_KEY, lock, result, reason, 0.013, 2.6, 0.5, -2.0, -5.0, 2 if arrived else 1, "finder"))
            if uploaded is not None:
                # The lock stamps the time the key claims: a few seconds off the emulator's.
                run.audit.append(AuditRow(t + 3.0, uploaded, LOST_KEY, lock, result, reason))
            truth.append((lock, t, result, reason, uploaded))
    run.attempts.sort(key=lambda a: a.time_s)
    run.audit.sort(key=lambda r: r.uploaded_at_s)
    run.wall_s = 12.5
    return run, LostTruth(LOST_KEY, BLOCK_s, arrival_s, tuple(truth))


@pytest.fixture(scope="session")
def synthetic() -> tuple[Run, LostTruth]:
    return build_run()


@pytest.fixture(scope="session")
def run(synthetic) -> Run:
    return synthetic[0]


@pytest.fixture(scope="session")
def lost_truth(synthetic) -> LostTruth:
    return synthetic[1]
