"""Start an emulated site and serve every device's host port on real serial endpoints: a
pty, socket://127.0.0.1:PORT and keylock://127.0.0.1:HUB/DEVICE (a pyserial URL scheme of
keylock's own). Prints one JSON line with every endpoint, then serves until interrupted
(Ctrl-C or SIGTERM) or for --duration seconds.

The site comes from a scenario file's `site:` (its steps are not run), or from --keys and
--locks: keys K1..Kn and locks L1..Lm in one group, every key granted it and validated, so
testers can open, read audit and so on at once.

Time: with --clock wall (the default) virtual time follows the wall clock times --speed;
with --clock manual it moves only when told (`keylock site advance`, an opening's wire
time), so a scenario driven from the command line meets its boundaries (a 59 s against a
61 s battery removal, the 10-day expiry) exactly, however loaded the machine. Everything
that reads the site's time (the server behind --server, `keylock site time`) reads this one.

Act on the emulated world with `keylock site ...` (insert a key, advance time, block a key,
add a blank device to provision): it talks to the hub printed here (`--hub`, or
KEYLOCK_HUB=HOST:PORT).

  keylock emulate --keys 2 --locks 1
  keylock emulate host/scenario/library/two_phones.scenario.yaml --clock manual
  keylock emulate --runtime micropython --speed 60
"""

import signal
import sys

from ..emulator.endpoints import CLOCKS, Endpoints
from ..emulator.served import build_engine
from ..errors import UsageError
from ..scenario.model import RUNTIMES
from ..scenario.parse import load


def add_arguments(parser):
    parser.add_argument("scenario", nargs="?", help="take the site from this scenario file")
    parser.add_argument("--keys", type=int, default=2, help="without a scenario: how many keys (default 2)")
    parser.add_argument("--locks", type=int, default=1, help="without a scenario: how many locks (default 1)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="cpython", help="where the firmware runs")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall: virtual time follows the wall clock (times --speed); manual: moves only when told",
    )
    parser.add_argument("--speed", type=float, default=None, help="with --clock wall: virtual seconds per wall-clock second (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after this many wall-clock seconds")


def run(args) -> int:
    if args.speed is not None and not args.speed > 0:
        raise UsageError(f"--speed must be above 0, got {args.speed:g}")
    if args.speed is not None and args.clock == "manual":
        raise UsageError("--speed is for --clock wall; a manual clock moves only when told (keylock site advance)")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be above 0 seconds, got {args.duration:g}")
    if args.scenario:
        load(args.scenario)  # a bad file is refused before anything is built
    engine = build_engine(args.scenario, keys=args.keys, locks=args.locks, runtime=args.runtime)
    site = engine.s
    try:
        endpoints = Endpoints(site, host=args.host, speed=args.speed or 1.0, clock=args.clock, engine=engine)
    except BaseException:
        site.close()  # nothing left behind: the site's temporary folder goes too
        raise
    print(endpoints.announcement(), flush=True)

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        endpoints.run(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        endpoints.close()
        site.close()
    print("stopped", file=sys.stderr)
    return 0
