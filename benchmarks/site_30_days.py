"""The system benchmark: 30 virtual days of a 10-key, 5-lock site, every step on emulated
devices running the real firmware, with the access server and the physics, timed on CPython
and on real MicroPython (WebAssembly).

    python -m keylock.benchmarks.site_30_days [--json] [--write]

The scenario (benchmarks/site_30_days.scenario.yaml) is generated from a seed: every
working day each key opens two locks of its group at random hours, every key is validated
every Monday, one key is lost and blocked in week two, and the keys validated after that
carry the blocklist to the locks, where the lost key is finally refused.
--write regenerates the file.
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent / "site_30_days.scenario.yaml"
KEYS = [f"K{i}" for i in range(1, 11)]
LOCKS = [f"L{i}" for i in range(1, 6)]
GROUP = {"L1": "depot", "L2": "depot", "L3": "depot", "L4": "substation", "L5": "substation"}


def generate(seed: int = 30) -> str:
    rng = random.Random(seed)
    lines = [
        "name: 30 days of a 10-key, 5-lock site",
        f"seed: {seed}",
        "site:",
        "  keys:",
        *[f'    - {{id: {k}, holder: "Holder {k}", soc: {round(rng.uniform(0.5, 1.0), 2)}}}' for k in KEYS],
        "  locks:",
        *[f"    - {{id: {lock}, group: {GROUP[lock]}, kind: {'padlock' if lock == 'L5' else 'cylinder'}}}" for lock in LOCKS],
        "steps:",
    ]
    step = lines.append
    for k in KEYS:
        step(f"  - grant: {{key: {k}, groups: [{'depot' if k in KEYS[:6] else 'substation'}]}}")
    elapsed_s = 0
    for day in range(30):
        weekday = day % 7  # the site starts on a Monday
        if weekday == 0:
            for k in KEYS:
                if not (day >= 14 and k == "K3"):  # K3 is lost in week two: it is not validated again
                    step(f"  - validate: {{key: {k}}}")
        if day == 8:
            step("  - block: {key: K3}")
        if day == 16:
            # Whoever found K3 tries it while its last validation (day 7) still runs: keys
            # validated on day 14 have carried the blocklist to L1 since.
            step("  - status: {lock: L1}")
            step("    expect: {blocklist_size: 1}")
            step("  - open: {key: K3, lock: L1}")
            step("    expect: {denied: blocked}")
        if weekday < 5:
            openings = sorted((rng.randint(1, 8 * 3600), k) for k in KEYS for _ in range(2))
            for at_s, k in openings:
                if at_s > elapsed_s:
                    step(f"  - advance: {at_s - elapsed_s}")
                    elapsed_s = at_s
                group = "depot" if k in KEYS[:6] else "substation"
                lock = rng.choice([lock for lock in LOCKS if GROUP[lock] == group])
                if not (k == "K3" and day >= 8):  # lost: nobody uses it any more
                    step(f"  - open: {{key: {k}, lock: {lock}}}")
        step(f"  - advance: {86400 - elapsed_s}")
        elapsed_s = 0
    step("  - battery_report:")
    return "\n".join(lines) + "\n"


def run_once(runtime: str) -> tuple[float, int, bool]:
    from ..host.emulator.factory import make_engine
    from ..host.scenario import parse, runner

    scenario = parse.load(SCENARIO)
    t0 = time.perf_counter()
    report = runner.run(scenario, make_engine(runtime, scenario), runtime)  # sets up and closes the site
    return time.perf_counter() - t0, len(scenario.steps), report.passed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write", action="store_true", help="regenerate the scenario file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per runtime (median reported)")
    args = parser.parse_args(argv)
    if args.write:
        SCENARIO.write_text(generate())
        print(f"wrote {SCENARIO}")
        return 0
    result = {}
    for runtime in ("cpython", "micropython"):
        times = []
        for i in range(args.runs):
            print(f"{runtime}: run {i + 1} of {args.runs} ...", file=sys.stderr)
            seconds, steps, passed = run_once(runtime)
            if not passed:
                print(f"the scenario failed on {runtime}", file=sys.stderr)
                return 1
            times.append(seconds)
        result[runtime] = {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times], "steps": steps}
    result["micropython_vs_cpython"] = round(result["micropython"]["median_s"] / result["cpython"]["median_s"], 2)
    if args.json:
        print(json.dumps(result))
    else:
        for runtime in ("cpython", "micropython"):
            r = result[runtime]
            print(f"{runtime:<12} {r['median_s']} s for 30 virtual days ({r['steps']} steps; runs {r['runs_s']})")
        print(f"MicroPython / CPython {result['micropython_vs_cpython']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
