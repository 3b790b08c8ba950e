"""Draw a figure of the physical models to a PNG.

battery   discharge curves of the key's cell at several temperatures
power     the lock's supply during one opening, with the brown-out line
thermal   body and electronics temperatures, heat into the body vs the keyhole, against 85 °C
fleet     a site's keys over a year: state of charge and when each reaches 15 %
"""

import json

from ...protocol.codes import LOW_BATTERY_SOC
from ..errors import UsageError

FIGURES = ("battery", "power", "thermal", "fleet")


def add_arguments(parser):
    parser.add_argument("figure", choices=FIGURES, help="which figure")
    parser.add_argument("--out", default=None, help="PNG file to write (default: keylock-FIGURE.png)")
    parser.add_argument("--battery", default="CR2032", help="battery for battery/power/fleet (default CR2032)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args):
    from ...hw_models import battery_by_name, plots

    out = args.out or f"keylock-{args.figure}.png"
    if not out.lower().endswith(".png"):
        raise UsageError(f"--out must name a .png file; got {out!r}")
    try:
        battery = battery_by_name(args.battery)
        if args.figure == "thermal":
            plots.plot_thermal(out)
        elif args.figure == "fleet":
            from ...hw_models import fleet

            plots.plot_fleet(out, fleet.run_site(battery=battery, warn_soc=LOW_BATTERY_SOC))
        else:
            plots.PLOTS[args.figure](out, battery=battery)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    print(json.dumps({"figure": args.figure, "path": out}) if args.json else f"wrote {out}")
    return 0
