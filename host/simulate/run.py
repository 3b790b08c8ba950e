"""A site file run on an EmulatedSite: every opening a real transaction on the emulated devices
(the firmware, the access server, the physics), the weekly battery report and its jobs, and the
ground truth of what happened (record.Run).

`SiteRun` runs one part of a site (all of it, or one connected component of its key-lock graph:
ensemble.py) and is driven from outside, one report week at a time, because the battery-change
jobs are booked for the whole site at once (`drive`): a technician's hour is shared by every
part. `simulate()` is the one-process run.
"""

import heapq
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from ...hw_models import thermal
from ...protocol.codes import Denial, Outcome
from ..emulator.site import EmulatedSite
from ..server import warning
from ..server.climate import Climate
from . import booking, record
from .model import SiteFile
from .plan import DAY_S, LOCK_SAMPLE_EVERY_H, RANKS, Action, Calendar, Planner, temperature_C

CONSTANT_20_C = Climate((20.0,) * 12)
AHEAD_DAYS = 14  # how far a unit's predicted failure is looked for, to book it in time
AUDIT_READER = "keylock-simulate"


class SiteRun:
    """One part of a site (`keys`/`locks`: None is all of it), run up to any time."""

    def __init__(
        self,
        spec: SiteFile,
        days: int | None = None,
        runtime: str | None = None,
        keys: Sequence[str] | None = None,
        locks: Sequence[str] | None = None,
        folder: Path | None = None,
    ):
        self.spec = spec
        self.days = spec.days if days is None else days
        self.cal = Calendar(spec)
        self.start_s = self.cal.at_s(0, 0)
        self.end_s = self.cal.at_s(self.days, 0)
        all_keys = [k.key.id for k in spec.keys]
        all_locks = [lock.lock.id for lock in spec.locks]
        self.own_keys = [k for k in all_keys if keys is None or k in set(keys)]
        self.own_locks = [lock for lock in all_locks if locks is None or lock in set(locks)]
        self.site = EmulatedSite(runtime or spec.runtime, start_s=int(self.start_s), timezone=spec.timezone, folder=folder)
        self.climate = {name: spec.climates.get(name, CONSTANT_20_C) for name in {"outdoor", *spec.climates}}
        # each key's and lock's climate by name (read at every hourly tick)
        self._climate_of = {k.key.id: k.climate for k in spec.keys} | {lock.lock.id: lock.climate for lock in spec.locks}
        self.run = record.Run(
            spec.name, spec.seed, self.start_s, self.days, spec.timezone, runtime or spec.runtime, low_soc=spec.service.low_soc
        )
        self._build()
        self.planner = Planner(spec, self.own_keys, self.own_locks)
        self._heap: list[Action] = []
        self._planned_day = -1
        self._n_jobs = 0
        self._scheduled: dict[str, record.Job] = {}  # each key's job to come
        self._job_action: dict[str, float] = {}  # and the action that does it
        self._carried_version = dict.fromkeys(self.own_keys, 0)  # the blocklist each key carries
        self._lock_version = dict.fromkeys(self.own_locks, 0)
        self._left_at: dict[str, tuple[float, str]] = {}
        self._blocked_at: dict[str, int] = {}  # key -> index of its open Block in run.blocks
        self.progress: Callable[[float, int], None] | None = None  # called at each local midnight
        self._day_schedule(0)

    # --- the site ---------------------------------------------------------------------------

    def _build(self):
        """The server knows the whole site in file order (so ids and blocklists are the same in
        every part); only this part's devices are emulated."""
        site, server, spec = self.site, self.site.server, self.spec
        if "outdoor" in spec.climates:
            server.set_climate(spec.climates["outdoor"])
        own_keys, own_locks = set(self.own_keys), set(self.own_locks)
        for entry in spec.locks:
            lock = entry.lock
            temperature = temperature_C(self.climate[entry.climate], self.cal, 0, 0)
            if lock.id in own_locks:
                site.add_lock(lock.id, group=lock.group, kind=lock.kind, temperature_C=temperature)
            else:
                server.add_lock(lock.id, group=lock.group, kind=lock.kind)
            self.run.locks[lock.id] = lock.kind
            self.run.groups[lock.id] = lock.group
        holders: set[str] = set()
        for entry in spec.keys:
            key = entry.key
            holder = key.holder or key.id
            if holder not in holders:
                holders.add(holder)
                site.add_holder(holder, key.id06 or f"ID06-{key.id}", site.default_card_expiry_s())
            if key.id in own_keys:
                temperature = temperature_C(self.climate[entry.climate], self.cal, 0, 0)
                site.add_key(key.id, holder=holder, battery=key.battery, soc=key.soc, temperature_C=temperature, state=key.state)
                self.run.keys[key.id] = holder
            else:
                server.add_key(key.id, holder, state=key.state, battery=key.battery)
            if entry.groups:
                server.grant(key.id, groups=list(entry.groups))

    def close(self):
        self.site.close()

    # --- time ------------------------------------------------------------------------------

    def _day_schedule(self, day: int):
        if day >= self.days:
            return
        for action in self.planner.day(day):
            heapq.heappush(self._heap, action)
        heapq.heappush(self._heap, Action(self.cal.at_s(day + 1, 0), 0, "", 0, "day"))
        self._planned_day = day

    def run_until(self, until_s: float):
        """Do every action before `until_s` (at most the end of the run), then move the clock there."""
        until_s = min(until_s, self.end_s)
        heap = self._heap
        while heap and heap[0].time_s < until_s:
            action = heapq.heappop(heap)
            if action.time_s > self.site.now_s:
                self.site.advance(action.time_s - self.site.now_s)
            self._do(action)
            if action.kind == "day" and self.progress is not None:
                self.progress(action.time_s, len(self.run.attempts))
        if until_s > self.site.now_s:
            self.site.advance(until_s - self.site.now_s)

    def _do(self, a: Action):
        handler = getattr(self, "_on_" + a.kind)
        handler(a)

    def _on_day(self, a: Action):
        self._day_schedule(self._planned_day + 1)

    def _on_tick(self, a: Action):
        day = int((a.time_s - self.start_s) // DAY_S)
        hour = a.n
        air_C = {name: temperature_C(climate, self.cal, day, hour) for name, climate in self.climate.items()}  # once per climate
        for name in self.own_keys:
            self.site.set_temperature(air_C[self._climate_of[name]], key=name)
        for name in self.own_locks:
            celsius = air_C[self._climate_of[name]]
            state = self.site.locks[name]
            if max(abs(t - state.ambient_C) for t in state.temps_C) < 0.5:
                self.site.set_temperature(celsius, lock=name)  # settled: it follows the air
            else:
                state.ambient_C = celsius  # warmed: it cools toward the new air by the thermal model
            if hour % LOCK_SAMPLE_EVERY_H == 0:
                self._sample_lock(name)

    def _sample_lock(self, name):
        state = self.site.locks[name]
        self.run.lock_samples.append(
            record.LockSample(
                self.site.now_s, name, float(state.temps_C[thermal.BODY]), float(state.temps_C[thermal.ELECTRONICS]), state.ambient_C
            )
        )

    def _on_sample(self, a: Action):
        for name in self.own_keys:
            k = self.site.keys[name]
            self.run.key_samples.append(record.KeySample(self.site.now_s, name, k.soc, k.temperature_C))

    # --- the holders -------------------------------------------------------------------------

    def _attempt(self, time_s, key, lock, opening, by):
        """Record an attempt made at `time_s` (the insertion), and the blocklist the lock holds after it."""
        k, state = self.site.keys[key], self.site.locks[lock]
        granted = opening.outcome == Outcome.GRANTED
        version = self._lock_version[lock]
        if self._carried_version[key] > version:  # the lock may have adopted what the key carried
            new = self.site.lock_status(lock)["blocklist_version"]
            if new > version:
                self._lock_version[lock] = new
                self.run.arrivals.append(record.Arrival(time_s, lock, new, key))
        self.run.attempts.append(
            record.Attempt(
                time_s,
                key,
                lock,
                "granted" if granted else "denied",
                None if granted else opening.reason.name.lower(),
                opening.energy_J,
                opening.min_supply_V,
                k.soc,
                k.temperature_C,
                float(state.temps_C[thermal.ELECTRONICS]),
                self._lock_version[lock],
                by,
                opening.wire_bytes > 0,
            )
        )

    def _on_open(self, a: Action):
        if self.site.keys[a.name].in_lock:
            return  # it is still in another lock
        self._attempt(a.time_s, a.name, a.lock, self.site.open(a.name, a.lock), a.by)

    def _on_leave(self, a: Action):
        if self.site.keys[a.name].in_lock:
            return
        self._attempt(a.time_s, a.name, a.lock, self.site.insert(a.name, a.lock), a.by)
        self._left_at[a.name] = (a.time_s, a.lock)

    def _on_take_out(self, a: Action):
        if a.name in self._left_at:
            since, lock = self._left_at.pop(a.name)
            self.site.remove(a.name)
            self.run.left_in_lock.append((since, self.site.now_s, a.name, lock))

    def _on_validate(self, a: Action):
        error = self.site.validate(a.name)
        until = None
        if error is None:
            until = self.site.server.key_info(a.name).valid_until_s
            self._carried_version[a.name] = self.site.server.blocklist()["version"]
        self.run.validations.append(record.ValidationRecord(self.site.now_s, a.name, error, until))

    # --- the operator ------------------------------------------------------------------------

    def _on_block(self, a: Action):
        version = self.site.server.block(a.name)
        if a.name in self.run.keys:  # recorded once, by the key's own part
            self._blocked_at[a.name] = len(self.run.blocks)
            self.run.blocks.append(record.Block(self.site.now_s, a.name, version))

    def _on_unblock(self, a: Action):
        self.site.server.unblock(a.name)
        i = self._blocked_at.pop(a.name, None)
        if i is not None:
            b = self.run.blocks[i]
            self.run.blocks[i] = record.Block(b.time_s, b.key, b.version, self.site.now_s)

    def _on_warm(self, a: Action):
        self.site.set_temperature(a.value, lock=a.lock, part="body")
        self.run.warmed.append((self.site.now_s, a.lock, a.value))
        self._sample_lock(a.lock)

    def _on_battery(self, a: Action):
        self._change_battery(a.name, urgent=False)

    def _on_job(self, a: Action):
        if self._job_action.get(a.name) != a.value:
            return  # booked again since, for another time
        job = self._scheduled.pop(a.name)
        del self._job_action[a.name]
        self._change_battery(a.name, urgent=job.urgent)

    def _change_battery(self, key, urgent):
        """A fresh cell; the technician's app tells the server (a reading of 100 %), so the
        next weekly report does not list the key again."""
        soc_before = self.site.keys[key].soc
        self.site.set_battery(key, 1.0)
        self.site.server.battery_reading(key, 1.0)
        self.run.jobs_done.append(record.JobDone(self.site.now_s, key, soc_before, urgent))

    # --- the weekly battery report (driven by `drive`) -----------------------------------------

    def units(self) -> tuple[list[record.Unit], dict]:
        """This part's keys for the battery report, as the server knows them now: every key
        whose latest reading is at or below the service's low_soc, and every key the server
        predicts to fail within AHEAD_DAYS (battery_at_risk), with when each is needed by."""
        server, spec = self.site.server, self.spec
        today = self.cal.local(self.site.now_s).date()
        first_day = int((self.site.now_s - self.start_s) // DAY_S)
        own = set(self.own_keys)
        units, needed_by = [], {}
        levels = {key: soc for key, soc, _read_s in server.battery_levels()}
        for key, soc in levels.items():
            if key not in own or soc > spec.service.low_soc:
                continue
            battery, climate = spec.key(key).key.battery, self.climate[self._climate_of[key]]
            fails = next(
                (
                    d
                    for d in range(AHEAD_DAYS + 1)
                    if soc * 1000 < warning.failing_permille(battery, climate.daily_min_C(today + timedelta(days=d)))
                ),
                None,
            )
            flat = fails == 0
            if fails is not None and not flat:
                needed_by[key] = self.cal.local(self.cal.at_s(first_day + fails, 6 * 60))
            units.append(record.Unit(key, self.run.keys[key], soc, flat))
        for risk in server.battery_at_risk(horizon_days=AHEAD_DAYS):
            if risk.key in own:
                units.append(record.Unit(risk.key, self.run.keys[risk.key], levels[risk.key], False, risk.fails_on))
                needed_by[risk.key] = self.cal.local(self.cal.at_s(first_day + (risk.fails_on - today).days, 6 * 60))
        return units, needed_by

    def add_jobs(self, jobs: Sequence[record.Job]):
        """This part's jobs of a weekly report. A key booked again keeps one job: the latest
        booking (the booking returns a job still ahead as it was, or moves it)."""
        for job in jobs:
            if job.key not in self.run.keys or self._scheduled.get(job.key) == job:
                continue
            self._scheduled[job.key] = job
            at = max(self.cal.utc_s(job.start), self.site.now_s)
            self._n_jobs += 1
            heapq.heappush(self._heap, Action(at, RANKS["job"], job.key, 100000 + self._n_jobs, "job", value=self._n_jobs))
            self._job_action[job.key] = self._n_jobs

    # --- the end -------------------------------------------------------------------------------

    def finish(self, db_path: Path | None = None) -> record.Run:
        """Read the server's audit trail (with each event's arrival), work out the lapses,
        copy the database to `db_path`, close the site."""
        run, server = self.run, self.site.server
        own = set(self.own_locks)
        for e in server.audit(reason="the site simulation's report: audit lag per event", by=AUDIT_READER):
            if e.lock in own:
                run.audit.append(
                    record.AuditRow(
                        float(e.time),
                        float(e.uploaded_at_s if e.uploaded_at_s is not None else math.nan),
                        e.key,
                        e.lock or "",
                        Outcome(e.outcome).name.lower(),
                        None if e.outcome == Outcome.GRANTED else Denial(e.reason).name.lower(),
                    )
                )
        for left_key, (since, lock) in self._left_at.items():
            run.left_in_lock.append((since, self.site.now_s, left_key, lock))
        run.lapses = lapses(run.validations, self.own_keys, self.start_s, self.end_s)
        if db_path is not None:
            server.close()
            shutil.copyfile(self.site.folder / "site.db", db_path)
        self.close()
        return run


def lapses(validations, keys, start_s, end_s) -> list[record.Lapse]:
    """Each key's time without a valid credential after its first validation: from its
    credential's end to its next validation (None: still lapsed at the end)."""
    out = []
    for key in keys:
        valid_until = None
        for v in validations:
            if v.key != key or v.error is not None:
                continue
            if valid_until is not None and v.time_s > valid_until:
                out.append(record.Lapse(key, valid_until, v.time_s))
            valid_until = v.valid_until_s
        if valid_until is not None and valid_until < end_s:
            out.append(record.Lapse(key, valid_until, None))
    return out


def report_times(spec: SiteFile, days: int) -> list[float]:
    """Every weekly battery report in the run: the service's report day at its time."""
    cal = Calendar(spec)
    out = []
    for day in range(days):
        if cal.date(day).strftime("%a").lower() == spec.service.report_day:
            out.append(cal.at_s(day, spec.service.report_min))
    return out


def drive(parts, spec: SiteFile, days: int, progress=None) -> list[record.WeeklyReport]:
    """Run `parts` (SiteRun-like: run_until, units, add_jobs; local objects or Dask actors'
    proxies with .result()) week by week: at each report time every part stops, the units of
    all are booked into the service windows together, and each part gets its own jobs."""
    cal = Calendar(spec)
    bookings = booking.Bookings()
    reports = []
    for at_s in [*report_times(spec, days), cal.at_s(days, 0)]:
        _wait([p.run_until(at_s) for p in parts])
        if progress is not None:
            progress(at_s)
        if at_s >= cal.at_s(days, 0):
            break
        units, needed_by = [], {}
        for u, n in _wait([p.units() for p in parts]):
            units += u
            needed_by.update(n)
        jobs = booking.book(units, cal.local(at_s), spec.service, bookings, needed_by=needed_by)
        _wait([p.add_jobs(jobs) for p in parts])
        units.sort(key=lambda u: (not u.flat, u.soc, u.key))
        reports.append(record.WeeklyReport(cal.local(at_s).date(), at_s, tuple(units), tuple(jobs)))
    return reports


def _wait(results):
    return [r.result() if hasattr(r, "result") else r for r in results]


class Progress:
    """Progress on stderr: a one-line bar redrawn each simulated day on a terminal; elsewhere (a
    CI log, a pipe) one line per tenth of the run, so a log is not one line of carriage returns."""

    def __init__(self, spec: SiteFile, days: int, stream=None):
        self.start_s = Calendar(spec).at_s(0, 0)
        self.days = days
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self._printed_tenth = -1

    def __call__(self, at_s: float, openings: int = 0):
        done = min(self.days, (at_s - self.start_s) / DAY_S)
        width = 30
        filled = int(width * done / self.days) if self.days else width
        elapsed = time.perf_counter() - self.t0
        rate = f", {openings / elapsed:.0f} openings/s" if openings and elapsed > 0 else ""
        text = f"[{'#' * filled}{'.' * (width - filled)}] day {done:.0f}/{self.days}: {openings} openings, {elapsed:.0f} s{rate}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done >= self.days else ""))
        else:
            tenth = int(10 * done / self.days) if self.days else 10
            if tenth == self._printed_tenth:
                return
            self._printed_tenth = tenth
            self.stream.write(text + "\n")
        self.stream.flush()


def simulate(spec: SiteFile, days: int | None = None, runtime: str | None = None, out: Path | None = None, progress=None) -> record.Run:
    """The whole site in this process; with `out`, the server's database is copied to out/site.db."""
    days = spec.days if days is None else days
    t0 = time.perf_counter()
    part = SiteRun(spec, days, runtime)
    part.progress = progress
    try:
        weekly = drive([part], spec, days)
    except BaseException:
        part.close()
        raise
    if progress is not None:
        progress(part.end_s, len(part.run.attempts))  # the bar's last state, and its newline
    run = part.finish(db_path=(out / "site.db") if out is not None else None)
    run.weekly = weekly
    run.wall_s = time.perf_counter() - t0
    return run


__all__ = ["SiteRun", "drive", "lapses", "report_times", "simulate"]
