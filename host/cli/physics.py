"""Ask the physical models a question.

  opening   does one opening complete with this battery, charge and temperature?
  life      how long does a battery last at this average current?
  thermal   how long may a flame heat this padlock; how hot do its electronics get?

Add --json for one JSON object on stdout.
"""

import json
import math

from ...protocol.codes import LOW_BATTERY_SOC
from ..errors import UsageError


def add_arguments(parser):
    sub = parser.add_subparsers(dest="question", metavar="QUESTION", required=True)

    p = sub.add_parser("opening", help="does one opening complete (brown-out, min supply, energy)?")
    p.add_argument("--battery", default="CR2032", help="CR2032 (default), CR2450 or CR2")
    p.add_argument("--soc", type=float, default=1.0, help="state of charge, 0..1 (default 1)")
    p.add_argument("--temperature-C", type=float, default=20.0, help="cell and lock temperature [degC] (default 20)")
    p.add_argument("--contact-ohm", type=float, default=None, help="key contact resistance [ohm] (default 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("life", help="years to empty and days to the low-battery warning")
    p.add_argument("--battery", default="CR2032", help="CR2032 (default), CR2450 or CR2")
    p.add_argument("--average-current-uA", type=float, required=True, help="average current [uA]")
    p.add_argument("--temperature-C", type=float, default=23.0, help="cell temperature [degC] (default 23)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser(
        "thermal",
        help="how long may a flame heat this padlock; or its electronics under heat into a part",
        description="Without --minutes: the longest heating before the electronics pass 85 °C, "
        "counting the rise after the heat stops. With --minutes: temperatures over that heating.",
    )
    p.add_argument("--padlock", default="steel-60mm", help="steel-60mm (0.8 kg, default) or steel-45mm (0.4 kg)")
    p.add_argument("--heat-W", type=float, required=True, help="heat absorbed by the part [W]")
    p.add_argument(
        "--part",
        choices=("flame", "body", "keyhole"),
        default="flame",
        help="where the heat goes in: a flame on the body's face (default), the whole body, or the keyhole",
    )
    p.add_argument("--minutes", type=float, default=None, help="how long the heat is applied [min]; omit to ask how long is safe")
    p.add_argument("--ambient-C", type=float, default=20.0, help="ambient temperature [degC] (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _opening(args, hw):
    battery = hw.battery_by_name(args.battery)
    _check_temperature(args, battery, hw)
    hw.params.check_range("--soc", args.soc, 0.0, 1.0)
    r = hw.power.simulate_opening(battery, args.soc, args.temperature_C, contact_ohm=args.contact_ohm)
    lock = hw.DEFAULT_LOCK
    breakdown_mJ = {name: _rounded(e_J * 1e3, 3) for name, e_J in r.energy_breakdown_J.items()}
    result = {
        "battery": battery.name,
        "soc": args.soc,
        "temperature_C": args.temperature_C,
        "booted": bool(r.booted),
        "browned_out": bool(r.browned_out),
        "reset_phase": r.reset_phase[()] or None,
        "reset_time_s": None if math.isnan(r.reset_time_s) else _rounded(r.reset_time_s, 4),
        "key_reset": bool(r.key_reset),
        "key_reset_time_s": None if not r.key_reset else _rounded(r.key_reset_time_s, 4),
        "opened": bool(r.completed),
        "min_supply_V": None if math.isnan(r.min_supply_V) else _rounded(r.min_supply_V, 3),
        "brownout_V": lock.brownout_V,
        "min_key_supply_V": _rounded(r.min_key_supply_V, 3),
        "key_brownout_V": lock.key_brownout_V,
        "peak_battery_current_mA": _rounded(float(r.battery_current_A.max()) * 1e3, 2),
        "energy_J": _rounded(r.energy_J, 5),
        "charge_C": _rounded(r.charge_C, 5),
        "energy_breakdown_mJ": breakdown_mJ,
        "duration_s": _rounded(r.time_s[-1], 3),
    }
    if r.key_reset:
        verdict = f"the key resets (its supply below {lock.key_brownout_V:g} V) in the {result['reset_phase']} phase at {result['key_reset_time_s']:.3f} s"
    elif not r.booted:
        verdict = "never boots: the reservoir does not reach the brown-out release level"
    elif r.completed:
        verdict = f"opens; lowest supply {result['min_supply_V']:.2f} V (brown-out {lock.brownout_V:g} V)"
    else:
        verdict = f"boots, then browns out in the {result['reset_phase']} phase at {result['reset_time_s']:.2f} s"
    lines = [
        f"{battery.name} at {args.soc:.0%}, {args.temperature_C:g} °C: {verdict}",
        f"energy from the cell {result['energy_J'] * 1e3:.1f} mJ ({result['charge_C'] * 1e3:.1f} mC), "
        f"peak {result['peak_battery_current_mA']:.0f} mA, key supply at least {result['min_key_supply_V']:.2f} V:",
    ]
    lines += [f"  {name:<18} {e_mJ:7.2f} mJ" for name, e_mJ in breakdown_mJ.items()]
    return result, "\n".join(lines)


def _life(args, hw):
    battery = hw.battery_by_name(args.battery)
    _check_temperature(args, battery, hw)
    # Zero current would mean an infinite life, which JSON cannot carry.
    hw.params.check_range("--average-current-uA", args.average_current_uA, 0.001, 1e6, "uA")
    life = hw.drain.battery_life(args.average_current_uA * 1e-6, battery, args.temperature_C, warn_soc=LOW_BATTERY_SOC)
    result = {
        "battery": battery.name,
        "average_current_uA": args.average_current_uA,
        "temperature_C": args.temperature_C,
        "years": _rounded(life["years"], 3),
        "days": _rounded(life["days"], 1),
        "days_to_warning": _rounded(life["days_to_warning"], 1),
    }
    text = (
        f"{battery.name} at {args.average_current_uA:g} uA, {args.temperature_C:g} °C: "
        f"{result['years']:.2f} years to empty, {100 * LOW_BATTERY_SOC:g} % warning after {result['days_to_warning']:.0f} days"
    )
    return result, text


def _thermal(args, hw):
    padlock = hw.params.padlock_by_name(args.padlock)
    hw.params.check_range("--heat-W", args.heat_W, 0.0, 1e5, "W")
    hw.params.check_range("--ambient-C", args.ambient_C, -60.0, 80.0, "degC")
    if args.minutes is None:
        return _thermal_safe(args, hw, padlock)
    hw.params.check_range("--minutes", args.minutes, 0.0, 1440.0, "min")
    params = hw.params.ThermalParams.from_padlock(padlock)
    r = hw.thermal.heating_response(args.part, args.heat_W, args.minutes * 60.0, args.ambient_C, params)
    result = {
        "padlock": padlock.name,
        "part": args.part,
        "heat_W": args.heat_W,
        "minutes": args.minutes,
        "ambient_C": args.ambient_C,
        "max_electronics_C": _rounded(r["max_electronics_C"], 1),
        "max_body_C": _rounded(r["max_body_C"], 1),
        "max_surface_C": _rounded(r["max_surface_C"], 1),
        "seconds_above_85C": r["seconds_above_limit"],
        "limit_C": r["limit_C"],
        "observed_s": float(r["time_s"][-1]),
    }
    verdict = "stays under" if r["seconds_above_limit"] == 0 else f"{r['seconds_above_limit']:.0f} s above"
    text = (
        f"{args.heat_W:g} W into the {args.part} of {padlock.name} ({padlock.mass_kg:g} kg) for {args.minutes:g} min "
        f"at {args.ambient_C:g} °C: electronics peak {result['max_electronics_C']:.1f} °C, {verdict} {r['limit_C']:g} °C"
    )
    return result, text


def _thermal_safe(args, hw, padlock):
    """How long may this heat go on before the electronics pass the limit, after-heat included."""
    r = hw.thermal.safe_heating(padlock, args.heat_W, args.ambient_C, args.part)
    unlimited = r["safe_s"] == float("inf")
    result = {
        "padlock": padlock.name,
        "mass_kg": padlock.mass_kg,
        "part": args.part,
        "heat_W": args.heat_W,
        "ambient_C": args.ambient_C,
        "safe_s": None if unlimited else _rounded(r["safe_s"], 1),
        "unlimited": unlimited,
        "peak_electronics_C": _rounded(r["peak_electronics_C"], 1),
        "surface_C": _rounded(r["surface_C"], 1),
        "body_C": _rounded(r["body_C"], 1),
        "steady_electronics_C": _rounded(r["steady_electronics_C"], 1),
        "limit_C": r["limit_C"],
    }
    where = "a flame on the body" if args.part == "flame" else f"heat into the {args.part}"
    head = f"{args.heat_W:g} W from {where} of {padlock.name} ({padlock.mass_kg:g} kg) at {args.ambient_C:g} °C"
    if unlimited:
        text = f"{head}: safe indefinitely, the electronics settle at {result['steady_electronics_C']:.1f} °C (limit {r['limit_C']:g} °C)"
    elif r["safe_s"] == 0:
        text = f"{head}: not at all, the electronics are already at or over {r['limit_C']:g} °C"
    else:
        text = (
            f"{head}: at most {r['safe_s']:.1f} s; the electronics then peak at {result['peak_electronics_C']:.1f} °C "
            f"after the heat stops (limit {r['limit_C']:g} °C), the heated spot reaches {result['surface_C']:.0f} °C"
        )
    return result, text


def _check_temperature(args, battery, hw):
    hw.params.check_range(
        "--temperature-C", args.temperature_C, battery.min_temperature_C, battery.max_temperature_C, f"degC ({battery.name})"
    )


def _rounded(value, digits):
    return round(float(value), digits)


_QUESTIONS = {"opening": _opening, "life": _life, "thermal": _thermal}


def run(args):
    # Imported here so `keylock --help` does not pay for numpy.
    from ... import hw_models as hw

    try:
        result, text = _QUESTIONS[args.question](args, hw)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(result) if args.json else text)
    return 0
