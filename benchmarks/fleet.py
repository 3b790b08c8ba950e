"""Benchmark: a site's keys over a year, day by day in chunks of keys: time, time per key-year and peak memory per site size.

    python -m keylock.benchmarks.fleet [--json] [--keys N[,N...]] [--days D] [--chunk-keys C] [--repeats R] [--loop-keys K]

Each size runs in its own Python process, so its peak resident memory (`ru_maxrss`) is that size's
alone; the process also reports its resident memory before the run (interpreter and numpy). The
table of openings (`fleet.opening_table`, `power.simulate_opening` on a grid) is built once per
process and timed apart; "run" is the draws plus the simulation, the median of `--repeats`.
A per-key Python loop of the same model (`reference_loop`, every opening and retry one by one)
runs on `--loop-keys` keys of the first size, checks the vectorised results equal it, and gives
its time per key-year for comparison.
"""

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from ..host.errors import KeylockError, UsageError
from ..hw_models import battery as bat
from ..hw_models import drain, fleet
from ..hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_SITE
from ..protocol.codes import LOW_BATTERY_SOC


def reference_loop(
    usage, temperature_C, table, battery=CR2032, key=DEFAULT_KEY_LOAD, site=DEFAULT_SITE, retry=fleet.DEFAULT_RETRY, keys=None, cells=None
):
    """The model of `fleet.simulate`, as Python loops over keys, days, openings and retries.

    `cells`: (BatteryParams, OpeningTable) per cell set, indexed by `usage.cell`.
    Returns (soc (days + 1, keys), failures, retries, key_days_unable, first_failure_day).
    """
    days, n_keys = usage.openings.shape
    keys = list(range(n_keys) if keys is None else keys)
    cells = [(battery, table)] if cells is None else list(cells)
    steady_C = (key.sleep_current_A + site.advertising_fraction * key.advertising_current_A) * drain.SECONDS_PER_DAY
    per_cell = []
    for cell_battery, cell_table in cells:
        day_tables = cell_table.on_days(temperature_C)
        self_soc = [float(bat.self_discharge_per_s(t, cell_battery)) * drain.SECONDS_PER_DAY for t in temperature_C]
        per_cell.append((drain.capacity_C(cell_battery), self_soc, [day_tables[d] for d in range(days)]))
    openings = usage.openings[:, keys].T.tolist()
    in_lock_s = usage.in_lock_s[:, keys].T.tolist()
    out = [[0.0] * (days + 1) for _ in keys]
    failures, retries, unable, first = ([0] * len(keys) for _ in range(4))
    for i, k in enumerate(keys):
        capacity_C, self_soc, per_day = per_cell[0 if usage.cell is None else int(usage.cell[k])]
        soc = float(usage.soc0[k])
        out[i][0] = soc
        first[i] = -1
        for d in range(days):
            day = per_day[d]
            q_ok = float(day.ok_charge(soc)) / capacity_C  # read at the day's start
            q_fail = None
            failed_today = 0
            for _ in range(openings[i][d]):
                if soc >= day.min_soc:
                    soc -= q_ok
                    continue
                if q_fail is None:  # the cell's state when the first opening failed
                    q_fail = float(day.fail_charge(soc)) / capacity_C
                failed_today += 1
                for _attempt in range(1 + retry.retries):
                    soc -= q_fail
            if failed_today:
                failures[i] += failed_today
                retries[i] += failed_today * retry.retries
                unable[i] += 1
                first[i] = d if first[i] < 0 else first[i]
            used_C = key.lock_idle_current_A * in_lock_s[i][d] + steady_C
            soc = max(soc - (used_C / capacity_C + self_soc[d]), 0.0)
            out[i][d + 1] = soc
    return np.array(out).T, np.array(failures), np.array(retries), np.array(unable), np.array(first)


def _median_s(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss_MB():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def measure(n_keys, days, chunk_keys, repeats, seed=0):
    """One size, in this process: times, peak memory and the site's failure figures."""
    rss_before_MB = _rss_MB()
    temperature_C = fleet.site_temperature_C(np.arange(days))
    start = time.perf_counter()
    table = fleet.opening_table(temperature_C)
    table_s = time.perf_counter() - start
    results = []
    run_s = _median_s(
        lambda: results.append(fleet.run_site(n_keys, days, seed=seed, warn_soc=LOW_BATTERY_SOC, chunk_keys=chunk_keys, table=table)),
        repeats,
    )
    key_years = n_keys * days / 365.0
    return {
        "keys": n_keys,
        "days": days,
        "chunk_keys": chunk_keys,
        "repeats": repeats,
        "table_s": round(table_s, 3),
        "run_s": round(run_s, 3),
        "us_per_key_year": round(run_s / key_years * 1e6, 2),
        "rss_before_MB": round(rss_before_MB, 1),
        "peak_rss_MB": round(_rss_MB(), 1),
        **results[-1].summary(),
    }


def _in_subprocess(n_keys, days, chunk_keys, repeats):
    argv = [sys.executable, "-m", "keylock.benchmarks.fleet", "--worker", "--keys", str(n_keys), "--days", str(days)]
    argv += ["--chunk-keys", str(chunk_keys), "--repeats", str(repeats)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise KeylockError(f"fleet benchmark at {n_keys} keys failed: {last}")
    return json.loads(done.stdout)


def loop_check(days, loop_keys, seed=0):
    """The per-key loop on the first `loop_keys` keys: its time per key-year, and agreement."""
    usage = fleet.draw_usage(loop_keys, days, DEFAULT_SITE, seed)
    temperature_C = fleet.site_temperature_C(np.arange(days))
    table = fleet.opening_table(temperature_C)
    start = time.perf_counter()
    soc, failures, *_ = reference_loop(usage, temperature_C, table)
    loop_s = time.perf_counter() - start
    r = fleet.run_site(loop_keys, days, seed=seed, warn_soc=LOW_BATTERY_SOC, table=table)
    agree = np.allclose(r.final_soc[:loop_keys], soc[-1], rtol=0, atol=1e-12) and np.array_equal(r.failures[:loop_keys], failures)
    return {
        "loop_keys": loop_keys,
        "loop_us_per_key_year": round(loop_s / (loop_keys * days / 365.0) * 1e6, 1),
        "results_agree": bool(agree),
    }


def run(sizes=(10_000,), days=365, chunk_keys=fleet.DEFAULT_CHUNK_KEYS, repeats=1, loop_keys=200):
    rows = [_in_subprocess(n, days, chunk_keys, repeats) for n in sizes]
    check = loop_check(days, min(loop_keys, sizes[0]))
    speedup = check["loop_us_per_key_year"] / max(rows[0]["us_per_key_year"], 1e-9)
    return {"sizes": rows, **check, "speedup": round(speedup, 1), "python": platform.python_version(), "numpy": np.__version__}


def _sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--keys takes numbers separated by commas; got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--keys must be positive; got {text!r}")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keylock.benchmarks.fleet", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=_sizes, default=[10_000], help="site sizes, e.g. 10000,100000,1000000")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--chunk-keys", type=int, default=fleet.DEFAULT_CHUNK_KEYS)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--loop-keys", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for name, value, low, high in (
        ("--keys", max(args.keys), 1, 10_000_000),
        ("--days", args.days, 1, 36_500),
        ("--chunk-keys", args.chunk_keys, 1, 10_000_000),
        ("--repeats", args.repeats, 1, 100),
        ("--loop-keys", args.loop_keys, 1, 100_000),
    ):
        if not low <= value <= high:
            raise UsageError(f"{name} must be within [{low}, {high}]; got {value}")
    if args.worker:
        print(json.dumps(measure(args.keys[0], args.days, args.chunk_keys, args.repeats)))
        return 0
    r = run(args.keys, args.days, args.chunk_keys, args.repeats, args.loop_keys)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"fleet: {args.days} days, chunks of {args.chunk_keys} keys")
    for s in r["sizes"]:
        print(
            f"  {s['keys']:>9} keys  run {s['run_s']:8.2f} s  {s['us_per_key_year']:7.2f} us/key-year  "
            f"peak {s['peak_rss_MB']:7.1f} MB (before {s['rss_before_MB']:.0f})  table {s['table_s']:.2f} s"
        )
        print(
            f"            failed openings {s['failed_openings']}, retries {s['retries']}, keys affected {s['keys_affected']}, "
            f"key-days unable {s['key_days_unable']}"
        )
    print(
        f"  per-key Python loop ({r['loop_keys']} keys) {r['loop_us_per_key_year']:.0f} us/key-year, {r['speedup']:.1f}x the vectorised run; results agree: {r['results_agree']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
