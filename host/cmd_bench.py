"""Run a benchmark and print its figures (what benchmarks/RESULTS.md records).

  handshake   the key-lock handshake: round trips, wire bytes and time per baud rate, CPU on
              CPython and MicroPython against its crypto calls alone, libosdp as a peer
  fleet       the fleet simulation (see `python -m keylock.benchmarks.fleet --help`)
"""

from .errors import UsageError


def add_arguments(parser):
    parser.add_argument("which", choices=["handshake", "fleet"], help="which benchmark")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-micropython", action="store_true", help="handshake: skip the MicroPython run")


def run(args) -> int:
    if args.which == "handshake":
        from ..benchmarks import handshake

        return handshake.main((["--json"] if args.json else []) + (["--no-micropython"] if args.no_micropython else []))
    try:
        from ..benchmarks import fleet
    except ImportError as exc:
        raise UsageError(f"the fleet benchmark is not available: {exc}") from None
    return fleet.main(["--json"] if args.json else [])
