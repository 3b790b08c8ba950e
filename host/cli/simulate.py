"""The main job: a whole site run for days or months on the emulated devices (the real
firmware, the access server, the physics), and the reports its operator reads.

  keylock simulate                                   # the built-in depot, a winter quarter
  keylock simulate SITE.site.yaml --days 30 --out report/
  keylock simulate SITE.site.yaml --check            # validate the file only
  keylock simulate SITE.site.yaml --ensemble 8 --workers 2
  keylock simulate SITE.site.yaml --variants whatif.yaml --scheduler tcp://HOST:8786
  keylock simulate SITE.site.yaml --split --workers 2

--out DIR gets index.html (open it in a browser), a battery-report-DATE.pdf for every Monday,
summary.json, events.csv and site.db (the access server's database at the end). The site file
format is docs/sites.md. With --ensemble/--variants the replicas run on Dask (a LocalCluster of
--workers processes, or the scheduler at --scheduler) and DIR gets ensemble.json with every
replica's figures and their spread. --split runs one site with each connected component of its
key-lock graph in its own worker.
"""

import json
import sys
import time
from pathlib import Path

from ..errors import UsageError
from ..scenario.model import RUNTIMES


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise UsageError(f"{value} must be at least 1")
    return value


def add_arguments(parser):
    parser.add_argument("site", nargs="?", type=Path, help="a *.site.yaml (docs/sites.md); default: the built-in depot")
    parser.add_argument("--days", type=_positive, help="days to run (default: the file's `days:`)")
    parser.add_argument("--out", type=Path, help="folder for the reports (created; files in it are replaced)")
    parser.add_argument("--runtime", choices=RUNTIMES, help="where the firmware runs (default: the file's, else cpython)")
    parser.add_argument("--seed", type=int, help="the seed (default: the file's)")
    parser.add_argument("--check", action="store_true", help="only read and validate the site file, and say what it holds")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cluster = parser.add_argument_group("on Dask (ensembles and split sites)")
    cluster.add_argument("--ensemble", type=_positive, metavar="N", help="run the site over N seeds (its seed and the next N-1)")
    cluster.add_argument("--variants", type=Path, metavar="FILE", help="run what-if variants of the site (docs/sites.md, Variants)")
    cluster.add_argument("--split", action="store_true", help="run one site split along the connected components of its key-lock graph")
    cluster.add_argument("--workers", type=_positive, help="processes of a LocalCluster (default 2)")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786")


def _load(args):
    import dataclasses

    from ..simulate import sitefile

    spec = sitefile.load(args.site) if args.site is not None else sitefile.load(sitefile.DEFAULT_SITE)
    if args.seed is not None:
        spec = dataclasses.replace(spec, seed=args.seed)
    return spec


def run(args) -> int:

    if args.workers and args.scheduler:
        raise UsageError("give --workers (a local cluster) or --scheduler (a running one), not both")
    if (args.workers or args.scheduler) and not (args.ensemble or args.variants or args.split):
        raise UsageError("--workers and --scheduler go with --ensemble, --variants or --split")
    if sum(bool(x) for x in (args.ensemble, args.variants, args.split)) > 1:
        raise UsageError("give one of --ensemble, --variants and --split")
    spec = _load(args)
    days = args.days or spec.days
    if args.check:
        return _check(spec, days, args.json)
    if args.ensemble or args.variants or args.split:
        return _on_dask(args, spec, days)
    from ..simulate import run as site_run

    progress = None if args.quiet or args.json else site_run.Progress(spec, days)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    _report(site_run.simulate(spec, days=days, runtime=args.runtime, out=args.out, progress=progress), args)
    return 0


def _report(result, args):
    """A run's outputs into --out (if given), and its summary on stdout."""
    from ..simulate import outputs

    data = outputs.write_all(result, args.out) if args.out is not None else outputs.summary(result)
    if args.json:
        print(json.dumps(data))
    else:
        _print_summary(data, args.out)


def _check(spec, days, as_json) -> int:
    from ..simulate.plan import Calendar

    facts = {
        "site": spec.name,
        "path": spec.path,
        "keys": len(spec.keys),
        "locks": len(spec.locks),
        "groups": sorted({lock.lock.group for lock in spec.locks if lock.lock.group}),
        "days": days,
        "start": Calendar(spec).date(0).isoformat(),
        "timezone": spec.timezone,
        "events": len(spec.events),
        "seed": spec.seed,
    }
    if as_json:
        print(json.dumps(facts))
    else:
        print(
            f"{spec.path}: valid: {facts['keys']} keys, {facts['locks']} locks in {len(facts['groups'])} groups, "
            f"{facts['events']} events, {days} days from {facts['start']} ({spec.timezone}), seed {spec.seed}"
        )
    return 0


def _print_summary(s: dict, out: Path | None):
    o = s["openings"]
    print(f"{s['site']}: {s['days']} days from {s['start'][:10]}, {s['keys']} keys, {s['locks']} locks, seed {s['seed']} ({s['runtime']})")
    print(f"  openings      {o['attempts']}: {o['granted']} granted, {sum(o['denied'].values())} denied")
    for reason, n in sorted(o["denied"].items(), key=lambda kv: -kv[1]):
        print(f"    denied {reason:<20} {n}")
    e = s["energy_per_opening_mJ"]
    if e["median"] is not None:
        print(f"  energy        median {e['median']} mJ an opening, 95th percentile {e['p95']} mJ")
    j = s["battery_jobs"]
    print(
        f"  battery jobs  {j['booked']} booked in service windows, {j['urgent']} urgent, {j['done']} done; {len(s['weekly_reports'])} weekly reports"
    )
    la = s["lapses"]
    print(f"  validation    {la['count']} lapses on {la['keys']} keys, longest {la['longest_days']} days")
    for k in s["lost_keys"]:
        print(
            f"  lost key      {k['key']} blocked {k['blocked'][:16]}: blocklist reached {k['locks_reached']} of {k['locks']} locks, "
            f"usable up to {k['longest_usable_h']} h after the block, {k['granted_after_block']} openings after it"
        )
    a = s["audit"]
    print(f"  audit         {a['events_at_server']} events at the server, lag median {a['median_lag_h']} h, max {a['max_lag_h']} h")
    sp = s["speed"]
    print(f"  speed         {sp['wall_s']} s, {sp['openings_per_s']} openings/s")
    if out is not None:
        print(f"Report: {(out / 'index.html').resolve()}")


def _on_dask(args, spec, days) -> int:
    from ..simulate import ensemble

    specs = []
    if not args.split:  # read before any cluster starts: a bad file changes nothing
        specs = ensemble.seeds(spec, args.ensemble) if args.ensemble else ensemble.load_variants(args.variants, spec)
    client = ensemble.client_for(workers=args.workers or (None if args.scheduler else 2), scheduler=args.scheduler)
    try:
        workers = len(client.scheduler_info()["workers"])
        t0 = time.perf_counter()
        if args.split:
            parts = ensemble.components(spec)
            if not args.quiet and not args.json:
                print(f"{spec.name}: {len(parts)} connected components on {workers} workers", file=sys.stderr)
            _report(ensemble.simulate_split(client, spec, days=days, runtime=args.runtime), args)
            return 0

        def done(i, _run):
            if not args.quiet and not args.json:
                print(f"  {specs[i][0]}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

        if not args.quiet and not args.json:
            print(f"{spec.name}: {len(specs)} replicas of {days} days on {workers} workers", file=sys.stderr)
        runs = ensemble.run_replicas(client, specs, days, args.runtime, on_done=done)
        data = ensemble.spread(runs)
        data.update({"site": spec.name, "days": days, "workers": workers, "wall_s": round(time.perf_counter() - t0, 2)})
    finally:
        client.close()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ensemble.json").write_text(json.dumps(data, indent=2) + "\n")
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"{'replica':<24} {'openings':>8} {'denied':>7} {'jobs/week':>9} {'urgent':>6} {'lapses':>6} {'lost key usable h':>17}")
    for r in data["replicas"]:
        print(
            f"{r['replica']:<24} {r['openings']:>8} {r['denied']:>7} {r['battery_jobs_per_week']:>9.1f} {r['urgent_jobs']:>6} "
            f"{r['lapses']:>6} {r['lost_key_usable_h']:>17}"
        )
    for field, f in data["spread"].items():
        print(f"  {field:<22} median {f['median']}, range {f['min']}-{f['max']}")
    print(f"{len(data['replicas'])} replicas on {workers} workers in {data['wall_s']} s")
    return 0
