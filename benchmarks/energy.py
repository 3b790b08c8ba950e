"""Benchmark: where one opening's energy goes, and how many openings a CR2032 gives.

    python -m keylock.benchmarks.energy [--json] [--temperature-C T]

1. The energy breakdown of one opening, fresh CR2032 at 20 degC (`power.simulate_opening`):
   reservoir left, cell R0 and polarisation, contact, switch, reservoir charger and diode,
   motor, lock compute, key.
2. Openings per battery at 1, 4, 10 and 20 openings a day at `--temperature-C` (20 degC): the
   charge per opening is simulated on a state-of-charge grid (it grows as the cell weakens), the
   key sleeps and advertises between openings (KeyLoadParams, the site's advertising fraction)
   and the cell self-discharges; a battery is used up at the first state of charge where an
   opening fails. Counted by integrating d(openings)/d(SoC) = n * capacity / daily charge.
3. The lowest state of charge that still opens at 20, 0, -20 and -30 degC: the cold behaviour the
   design keeps.
"""

import argparse
import json
import sys
import time

import numpy as np

from ..hw_models import battery as bat
from ..hw_models import drain, power
from ..hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_LOCK, DEFAULT_SITE

OPENINGS_PER_DAY = (1, 4, 10, 20)
THRESHOLD_TEMPERATURES_C = (20.0, 0.0, -20.0, -30.0)
SOC_GRID = np.linspace(1.0, 0.01, 100)


def breakdown(lock=DEFAULT_LOCK, temperature_C=20.0):
    r = power.simulate_opening(CR2032, 1.0, temperature_C, lock)
    return {
        "energy_mJ": round(float(r.energy_J) * 1e3, 2),
        "charge_mC": round(float(r.charge_C) * 1e3, 2),
        "peak_battery_current_mA": round(float(r.battery_current_A.max()) * 1e3, 1),
        "min_key_supply_V": round(float(r.min_key_supply_V), 3),
        "parts_mJ": {name: round(float(e) * 1e3, 2) for name, e in r.energy_breakdown_J.items()},
    }


def openings_per_battery(lock=DEFAULT_LOCK, temperature_C=20.0, key=DEFAULT_KEY_LOAD, site=DEFAULT_SITE):
    """{openings a day: (openings until the first failure, days, SoC at the first failure)}."""
    r = power.simulate_opening(CR2032, SOC_GRID, temperature_C, lock)
    fails = ~r.completed
    end = int(np.argmax(fails)) if fails.any() else SOC_GRID.size - 1
    soc = SOC_GRID[: end + 1]
    q_open_C = r.charge_C[: end + 1]
    capacity_C = drain.capacity_C(CR2032)
    steady_C_per_day = (key.sleep_current_A + site.advertising_fraction * key.advertising_current_A) * drain.SECONDS_PER_DAY
    self_soc_per_day = float(bat.self_discharge_per_s(temperature_C, CR2032)) * drain.SECONDS_PER_DAY
    out = {}
    for n in OPENINGS_PER_DAY:
        soc_per_day = (n * q_open_C + steady_C_per_day) / capacity_C + self_soc_per_day
        days = float(np.sum(-np.diff(soc) / ((soc_per_day[1:] + soc_per_day[:-1]) / 2)))
        out[n] = {"openings": int(n * days), "days": round(days, 1), "fails_below_soc": round(float(soc[-1]), 2)}
    return out


def lowest_soc_that_opens(lock=DEFAULT_LOCK):
    socs = np.linspace(0.02, 0.6, 59)
    r = power.simulate_opening(CR2032, socs, np.array(THRESHOLD_TEMPERATURES_C)[:, None], lock)
    return {
        f"{t:g}": (round(float(socs[row].min()), 2) if row.any() else None)
        for t, row in zip(THRESHOLD_TEMPERATURES_C, r.completed, strict=True)
    }


def run(temperature_C=20.0):
    start = time.perf_counter()
    result = {
        "battery": CR2032.name,
        "fresh_20C": breakdown(),
        "temperature_C": temperature_C,
        "openings_per_battery": {str(n): v for n, v in openings_per_battery(temperature_C=temperature_C).items()},
        "lowest_soc_that_opens": lowest_soc_that_opens(),
        "lock": {
            "limit_mA": DEFAULT_LOCK.limit_A * 1e3,
            "key_hold_V": DEFAULT_LOCK.key_hold_V,
            "reservoir_mF": round(DEFAULT_LOCK.reservoir_F * 1e3, 2),
        },
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def _text(r):
    f = r["fresh_20C"]
    lines = [
        f"one opening, fresh {r['battery']} at 20 degC: {f['energy_mJ']} mJ ({f['charge_mC']} mC), "
        f"peak {f['peak_battery_current_mA']} mA, key supply >= {f['min_key_supply_V']} V",
    ]
    lines += [f"  {name:<18} {e:7.2f} mJ" for name, e in f["parts_mJ"].items()]
    lines.append(f"openings per battery at {r['temperature_C']:g} degC:")
    for n, v in r["openings_per_battery"].items():
        lines.append(f"  {n:>2} a day: {v['openings']:>6} openings over {v['days']:g} days (fails below {v['fails_below_soc']:.0%})")
    lowest = ", ".join(f"{t} degC {s:.0%}" if s is not None else f"{t} degC none" for t, s in r["lowest_soc_that_opens"].items())
    lines.append(f"lowest charge that opens: {lowest}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="keylock bench energy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--temperature-C", type=float, default=20.0, help="for openings per battery (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not CR2032.min_temperature_C <= args.temperature_C <= CR2032.max_temperature_C:
        parser.error(f"--temperature-C takes {CR2032.min_temperature_C:g}..{CR2032.max_temperature_C:g}")
    r = run(args.temperature_C)
    print(json.dumps(r) if args.json else _text(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
