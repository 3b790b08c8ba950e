"""Openings per second on a large emulated site, the way the site simulation drives it: 100
keys, 40 locks in 4 groups, every event preceded by `site.advance`, hourly temperatures for
every key and lock, weekly validations, the real firmware and the physics on CPython.

    python -m keylock.benchmarks.site_openings [--openings N] [--runs 3] [--no-cache] [--json]

Working days run 07:00-17:00 with openings at random times (seeded); each hour every key and
lock gets the hour's temperature (a daily swing of +-6 degC around 4 degC, keys carried warmer
in pockets); every Monday each key is validated. Timed: from the site's first event to the last
opening (building and first validating the site is not), openings/s = openings / wall s, the median of `--runs`.
`--no-cache` integrates every insertion exactly (physics_cache disabled), for comparison.
"""

import argparse
import json
import math
import random
import statistics
import sys
import time

N_KEYS, N_LOCKS, N_GROUPS = 100, 40, 4
OPENINGS_PER_WORKING_DAY = 230  # ~15,000 a quarter's 65 working days


def build(physics_cache=True):
    from ..host.emulator.site import EmulatedSite

    site = EmulatedSite("cpython", physics_cache=physics_cache)
    rng = random.Random(15)
    for i in range(N_LOCKS):
        site.add_lock(f"L{i + 1}", group=f"g{i % N_GROUPS}", kind="padlock" if i % 5 == 4 else "cylinder")
    for i in range(N_KEYS):
        key = f"K{i + 1}"
        site.add_key(key, holder=f"Holder {key}", soc=round(rng.uniform(0.35, 1.0), 3), temperature_C=outdoor_C(6) + 8.0)
        site.server.grant(key, groups=[f"g{i % N_GROUPS}"])
        site.validate(key)  # issued: as every Monday at 06:00 (and the server's physics for that temperature warm)
    return site


def outdoor_C(hour):
    return 4.0 + 6.0 * math.sin(2 * math.pi * (hour % 24 - 9) / 24)


def run(site, openings, seed=15):
    """Drive `site` until `openings` openings; (seconds, granted)."""
    from ..protocol.codes import Outcome

    rng = random.Random(seed)
    keys, locks = list(site.keys), list(site.locks)
    by_group = {g: [lock for i, lock in enumerate(locks) if i % N_GROUPS == g] for g in range(N_GROUPS)}
    done = granted = 0
    hour = 0
    t0 = time.perf_counter()
    while done < openings:
        day, hour_of_day = divmod(hour, 24)
        for name in locks:
            site.set_temperature(outdoor_C(hour), lock=name)
        for name in keys:
            site.set_temperature(outdoor_C(hour) + 8.0, key=name)  # in a pocket or a van
        if day % 7 == 0 and hour_of_day == 6:
            for name in keys:
                site.advance(1.0)
                site.validate(name)
        at_s = 0.0
        if day % 7 < 5 and 7 <= hour_of_day < 17:
            times = sorted(rng.uniform(0, 3600) for _ in range(OPENINGS_PER_WORKING_DAY // 10))
            for t_s in times:
                if done >= openings:
                    break
                site.advance(t_s - at_s)  # nothing when the last opening ran past t_s
                at_s = max(at_s, t_s)
                i = rng.randrange(N_KEYS)
                result = site.open(keys[i], rng.choice(by_group[i % N_GROUPS]))
                at_s += max(2.0, result.duration_s)
                granted += int(result.outcome == Outcome.GRANTED)
                done += 1
        site.advance(max(3600.0 - at_s, 0.0))
        hour += 1
    return time.perf_counter() - t0, granted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--openings", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--no-cache", action="store_true", help="integrate every insertion exactly")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rates, granted, cache = [], 0, {}
    for i in range(args.runs):
        print(f"run {i + 1} of {args.runs} ...", file=sys.stderr)
        site = build(physics_cache=not args.no_cache)
        try:
            seconds, granted = run(site, args.openings)
        finally:
            site.close()
        rates.append(args.openings / seconds)
        cache = {"hits": site.physics.hits, "misses": site.physics.misses, "exact": site.physics.exact}
    result = {
        "openings": args.openings,
        "granted": granted,
        "openings_per_s": round(statistics.median(rates), 1),
        "runs_per_s": [round(r, 1) for r in rates],
        "physics_cache": not args.no_cache,
        "cache_calls": cache,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['openings_per_s']} openings/s ({args.openings} openings, {granted} granted; runs {result['runs_per_s']}); cache {cache}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
