"""Benchmark: a site of 10,000 keys over 365 days, vectorised, against a plain per-key Python loop.

    python -m keylock.benchmarks.fleet [--json] [--keys N] [--days D] [--repeats R] [--loop-keys K]

Both sides replay the same random draws and the same per-day opening charge, so they compute the
same numbers (the tests check that); only the simulation is timed, not the draws. The loop runs on
`--loop-keys` keys and is scaled linearly to the full site, which is fair because its cost per key
is constant. Times are medians of `--repeats` runs.
"""

import argparse
import json
import platform
import statistics
import time

import numpy as np

from ..hw_models import battery as bat
from ..hw_models import drain, fleet
from ..hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_SITE
from ..protocol.codes import LOW_BATTERY_SOC


def reference_loop(usage, temperature_C, charge_per_opening_C, battery=CR2032, key=DEFAULT_KEY_LOAD, site=DEFAULT_SITE, keys=None):
    """The same model as `fleet.simulate`, written as nested Python loops over keys and days."""
    days, n_keys = usage.openings.shape
    keys = list(range(n_keys) if keys is None else keys)
    capacity_C = drain.capacity_C(battery)
    steady_C = (key.sleep_current_A + site.advertising_fraction * key.advertising_current_A) * drain.SECONDS_PER_DAY
    self_soc = [float(bat.self_discharge_per_s(t, battery)) * drain.SECONDS_PER_DAY for t in temperature_C]
    q_open = [float(q) for q in charge_per_opening_C]
    # Only the keys asked for are converted, so the loop's cost scales with the number of keys.
    openings = usage.openings[:, keys].T.tolist()
    in_lock_s = usage.in_lock_s[:, keys].T.tolist()
    out = [[0.0] * (days + 1) for _ in keys]
    for i, (row, k) in enumerate(zip(out, keys, strict=True)):
        soc = float(usage.soc0[k])
        row[0] = soc
        for d in range(days):
            used_C = openings[i][d] * q_open[d] + key.lock_idle_current_A * in_lock_s[i][d] + steady_C
            soc = max(soc - (used_C / capacity_C + self_soc[d]), 0.0)
            row[d + 1] = soc
    return np.array(out).T


def _median_s(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(n_keys=10_000, days=365, repeats=5, loop_keys=1000, seed=0):
    usage = fleet.draw_usage(n_keys, days, DEFAULT_SITE, seed)
    temperature_C = fleet.site_temperature_C(np.arange(days))
    q_open_C = fleet.opening_charge_C(temperature_C)
    vectorised_s = _median_s(lambda: fleet.simulate(usage, temperature_C, charge_per_opening_C=q_open_C), repeats)
    end_to_end_s = _median_s(lambda: fleet.run_site(n_keys, days, seed=seed, warn_soc=LOW_BATTERY_SOC), repeats)
    subset = range(loop_keys)
    loop_s = _median_s(lambda: reference_loop(usage, temperature_C, q_open_C, keys=subset), repeats)
    loop_scaled_s = loop_s * n_keys / loop_keys
    soc = fleet.simulate(usage, temperature_C, charge_per_opening_C=q_open_C)
    agree = np.allclose(soc[:, :loop_keys], reference_loop(usage, temperature_C, q_open_C, keys=subset), rtol=0, atol=1e-12)
    return {
        "keys": n_keys,
        "days": days,
        "repeats": repeats,
        "vectorised_s": round(vectorised_s, 4),
        "end_to_end_s": round(end_to_end_s, 4),
        "loop_keys": loop_keys,
        "loop_subset_s": round(loop_s, 4),
        "loop_scaled_s": round(loop_scaled_s, 3),
        "speedup": round(loop_scaled_s / vectorised_s, 1),
        "results_agree": bool(agree),
        "keys_crossing_15pct": int((fleet.crossing_day(soc, LOW_BATTERY_SOC) >= 0).sum()),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keylock.benchmarks.fleet", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-keys", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    r = run(args.keys, args.days, args.repeats, min(args.loop_keys, args.keys))
    if args.json:
        print(json.dumps(r))
    else:
        print(f"fleet: {r['keys']} keys x {r['days']} days")
        print(f"  vectorised simulation  {r['vectorised_s'] * 1e3:8.1f} ms (median of {r['repeats']})")
        print(f"  with draws and opening table {r['end_to_end_s'] * 1e3:8.1f} ms")
        print(f"  per-key Python loop    {r['loop_scaled_s']:8.2f} s  ({r['loop_keys']} keys: {r['loop_subset_s']:.3f} s, scaled)")
        print(f"  speed-up               {r['speedup']:8.0f} x   results agree: {r['results_agree']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
