"""Start an emulated site and serve every device's host port on real serial endpoints: a
pty, socket://127.0.0.1:PORT and keylock://127.0.0.1:HUB/DEVICE (a pyserial URL scheme of
keylock's own). Prints one JSON line with every endpoint, then serves until interrupted
(Ctrl-C or SIGTERM), with virtual time following wall time (times --speed).

The site comes from a scenario file's `site:` (its steps are not run), or from --keys and
--locks: keys K1..Kn and locks L1..Lm in one group, every key granted it and validated, so
testers can open, read audit and so on at once.

  keylock emulate --keys 2 --locks 1
  keylock emulate host/scenario/library/two_phones.scenario.yaml --runtime micropython
"""

import signal
import sys

from ..emulator.endpoints import Endpoints
from ..emulator.served import build_site
from ..errors import UsageError
from ..scenario.model import RUNTIMES


def add_arguments(parser):
    parser.add_argument("scenario", nargs="?", help="take the site from this scenario file")
    parser.add_argument("--keys", type=int, default=2, help="without a scenario: how many keys (default 2)")
    parser.add_argument("--locks", type=int, default=1, help="without a scenario: how many locks (default 1)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="cpython", help="where the firmware runs")
    parser.add_argument("--speed", type=float, default=1.0, help="virtual seconds per wall-clock second (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many wall-clock seconds")


def run(args) -> int:
    if args.speed <= 0:
        raise UsageError("--speed must be above 0")
    site = build_site(args.scenario, keys=args.keys, locks=args.locks, runtime=args.runtime)
    endpoints = Endpoints(site, host=args.host, speed=args.speed)
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
