"""Beyond one process, on Dask: ensembles of a site (the same site over many seeds, and what-if
variants of it) and one large site split along the connected components of its key-lock graph.

  keylock simulate SITE.yaml --ensemble 8 --workers 2          # a LocalCluster of 2 processes
  keylock simulate SITE.yaml --variants whatif.yaml --scheduler tcp://10.0.0.5:8786

A replica is `run.simulate()` of its own site file and seed in a worker process: the same code
as a one-process run, so the same seed gives the same result wherever it runs (tested). A
split site runs each component in a Dask actor (a SiteRun kept in one worker's memory) and is
driven week by week from here, because battery-change jobs are booked for the whole site at
once; components share nothing else: a key opens only locks of its own component, and every
part's server knows the whole site, so ids and blocklists are the same as in one process.
"""

import dataclasses
import math
import statistics
from pathlib import Path

import yaml

from ..errors import UsageError
from ..scenario.model import ColdSnap
from ..server.climate import Climate
from . import outputs, record
from .model import Event, SiteFile
from .run import SiteRun, drive, simulate


class VariantError(UsageError):
    """A variants file that cannot be applied: `FILE: reason` (CLI exit 2)."""


# --- variants --------------------------------------------------------------------------------

VARIANT_FIELDS = {
    "name": "what the variant is called in the results",
    "climate_shift_K": "added to every climate's monthly means and cold snaps (negative: a colder winter)",
    "forget_share": "the share of holders who forget to validate (0-1)",
    "openings_scale": "every group's openings per day multiplied by this",
    "seed": "the variant's seed (default: the site's)",
    "lost": "more lost keys: a list of {key, day, found}",
}


def load_variants(path: Path, spec: SiteFile) -> list[tuple[str, SiteFile]]:
    """A variants file: `variants:` a list of mappings of VARIANT_FIELDS, each applied to `spec`."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise VariantError(f"{path}: cannot read it as YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("variants"), list) or not data["variants"]:
        raise VariantError(f"{path}: needs `variants:`, a list of mappings with {', '.join(VARIANT_FIELDS)}")
    out = []
    for i, v in enumerate(data["variants"], 1):
        if not isinstance(v, dict):
            raise VariantError(f"{path}: variant {i} must be a mapping")
        unknown = sorted(set(v) - set(VARIANT_FIELDS))
        if unknown:
            raise VariantError(f"{path}: variant {i}: unknown field {unknown[0]!r}; allowed: {', '.join(VARIANT_FIELDS)}")
        try:
            out.append((str(v.get("name", f"variant {i}")), apply_variant(spec, v)))
        except (TypeError, ValueError, KeyError, StopIteration) as exc:
            raise VariantError(f"{path}: variant {i}: {exc}") from None
    return out


def apply_variant(spec: SiteFile, v: dict) -> SiteFile:
    changes: dict = {}
    if "climate_shift_K" in v:
        shift = float(v["climate_shift_K"])
        changes["climates"] = {name: _shifted(c, shift) for name, c in spec.climates.items()}
    if "forget_share" in v:
        share = float(v["forget_share"])
        if not 0 <= share <= 1:
            raise ValueError(f"forget_share must be from 0 to 1, not {share}")
        changes["validation"] = dataclasses.replace(spec.validation, forget_share=share)
    if "openings_scale" in v:
        scale = float(v["openings_scale"])
        if not 0 <= scale <= 100:
            raise ValueError(f"openings_scale must be from 0 to 100, not {scale}")
        changes["usage"] = tuple(dataclasses.replace(u, openings_per_day=u.openings_per_day * scale) for u in spec.usage)
    if "seed" in v:
        changes["seed"] = int(v["seed"])
    if "lost" in v:
        added = []
        for item in v["lost"]:
            key = str(item["key"])
            spec.key(key)  # StopIteration: not a key of the site
            day, found = int(item["day"]), item.get("found")
            if not 0 <= day < spec.days or (found is not None and int(found) <= day):
                raise ValueError(f"lost {key}: day {day} must be within the run and before found")
            added.append(Event("lost", day, key=key, until_day=None if found is None else int(found)))
        changes["events"] = spec.events + tuple(added)
    return dataclasses.replace(spec, **changes)


def _shifted(c: Climate, shift_K: float) -> Climate:
    return Climate(
        tuple(m + shift_K for m in c.monthly_mean_C),
        c.daily_swing_K,
        tuple(ColdSnap(s.first, s.last, s.min_C + shift_K) for s in c.cold_snaps),
    )


# --- replicas --------------------------------------------------------------------------------


def replica(spec: SiteFile, days: int, runtime: str | None) -> record.Run:
    """One replica: a one-process run (run in a Dask worker)."""
    return simulate(spec, days=days, runtime=runtime)


def client_for(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: on the scheduler at `scheduler`, else on a LocalCluster of `workers`
    processes of one thread each (the firmware is pure Python: threads would share one GIL)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    # dashboard_address=None: no dashboard (its documented off switch; the stub types it as str)
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None)  # pyright: ignore[reportArgumentType]
    return Client(cluster)


def run_replicas(client, specs: list[tuple[str, SiteFile]], days: int, runtime: str | None, on_done=None) -> list[tuple[str, record.Run]]:
    """Each (name, site) on the cluster; results in the order given. `on_done(i, run)` as each finishes."""
    from dask.distributed import as_completed

    futures = [
        client.submit(replica, spec, days, runtime, key=f"replica-{i}-{spec.seed}", pure=False) for i, (_n, spec) in enumerate(specs)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    runs: list = [None] * len(specs)
    for future in as_completed(futures):
        i = index[future.key]
        runs[i] = future.result()
        if on_done is not None:
            on_done(i, runs[i])
    return [(name, run) for (name, _s), run in zip(specs, runs, strict=True)]


def seeds(spec: SiteFile, n: int) -> list[tuple[str, SiteFile]]:
    """The site over `n` seeds: its own and the next n-1."""
    return [(f"seed {spec.seed + i}", dataclasses.replace(spec, seed=spec.seed + i)) for i in range(n)]


def spread(named_runs: list[tuple[str, record.Run]]) -> dict:
    """What varies across the replicas: per replica the figures an operator plans with, and
    for each its median and range."""
    rows = []
    for name, run in named_runs:
        s = outputs.summary(run)
        weeks = s["weekly_reports"]
        rows.append(
            {
                "replica": name,
                "seed": run.seed,
                "openings": s["openings"]["attempts"],
                "denied": sum(s["openings"]["denied"].values()),
                "battery_jobs_per_week": statistics.mean(w["jobs"] + w["urgent_jobs"] for w in weeks) if weeks else 0.0,
                "urgent_jobs": s["battery_jobs"]["urgent"],
                "lapses": s["lapses"]["count"],
                "lost_key_usable_h": max((k["longest_usable_h"] or 0 for k in s["lost_keys"]), default=0.0),
                "median_audit_lag_h": s["audit"]["median_lag_h"],
            }
        )
    figures = {}
    for field in ("openings", "denied", "battery_jobs_per_week", "urgent_jobs", "lapses", "lost_key_usable_h", "median_audit_lag_h"):
        values = [r[field] for r in rows if r[field] is not None and not (isinstance(r[field], float) and math.isnan(r[field]))]
        if values:
            figures[field] = {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}
    return {"replicas": rows, "spread": figures}


# --- one site split along its connected components ----------------------------------------------


def components(spec: SiteFile) -> list[tuple[list[str], list[str]]]:
    """The connected components of the site's key-lock graph, as (keys, locks) in file order: a
    key is joined to every lock of its groups and to every lock an event puts it in. Locks
    no key reaches are components of their own."""
    parent: dict[str, str] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a, b):
        parent[find(a)] = find(b)

    by_group: dict[str, list[str]] = {}
    for lock in spec.locks:
        find("L:" + lock.lock.id)
        if lock.lock.group:
            by_group.setdefault(lock.lock.group, []).append(lock.lock.id)
    for key in spec.keys:
        find("K:" + key.key.id)
        for g in key.groups:
            for lock in by_group.get(g, ()):
                join("K:" + key.key.id, "L:" + lock)
    for e in spec.events:
        if e.key and e.lock:
            join("K:" + e.key, "L:" + e.lock)
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for key in spec.keys:
        groups.setdefault(find("K:" + key.key.id), ([], []))[0].append(key.key.id)
    for lock in spec.locks:
        groups.setdefault(find("L:" + lock.lock.id), ([], []))[1].append(lock.lock.id)
    return list(groups.values())


def simulate_split(client, spec: SiteFile, days: int | None = None, runtime: str | None = None) -> record.Run:
    """One site, each connected component in a Dask actor, driven week by week from here."""
    import time

    days = spec.days if days is None else days
    t0 = time.perf_counter()
    parts = [client.submit(Part, spec, days, runtime, keys, locks, actor=True).result() for keys, locks in components(spec)]
    weekly = drive(parts, spec, days)
    runs = [p.finish().result() for p in parts]
    run = merge(runs)
    run.weekly = weekly
    run.wall_s = time.perf_counter() - t0
    return run


class Part:
    """A SiteRun in a Dask actor. Dask builds an actor in a task thread but runs its methods in
    the worker's one actor thread, and the site's SQLite connection belongs to the thread that
    opened it: so the SiteRun is made at the first call."""

    def __init__(self, *args):
        self._args = args
        self._run: SiteRun | None = None

    @property
    def part(self) -> SiteRun:
        if self._run is None:
            self._run = SiteRun(*self._args)
        return self._run

    def run_until(self, until_s):
        self.part.run_until(until_s)

    def units(self):
        return self.part.units()

    def add_jobs(self, jobs):
        self.part.add_jobs(jobs)

    def finish(self):
        return self.part.finish()


def merge(runs: list[record.Run]) -> record.Run:
    """The parts' runs as one: every list merged in time order (ties by name)."""
    first = runs[0]
    out = record.Run(first.site, first.seed, first.start_s, first.days, first.timezone, first.runtime)
    for r in runs:
        out.keys.update(r.keys)
        out.locks.update(r.locks)
        out.groups.update(r.groups)
    for name in (
        "attempts",
        "validations",
        "lapses",
        "key_samples",
        "lock_samples",
        "blocks",
        "arrivals",
        "audit",
        "jobs_done",
        "left_in_lock",
        "warmed",
    ):
        items = [x for r in runs for x in getattr(r, name)]
        items.sort(key=_order)
        setattr(out, name, items)
    return out


def _order(x):
    if isinstance(x, tuple):
        return (x[0], str(x[1:]))
    t = getattr(x, "time_s", None)
    if t is None:
        t = getattr(x, "from_s", 0.0)
    return (t, str(getattr(x, "key", "")), str(getattr(x, "lock", "")))
