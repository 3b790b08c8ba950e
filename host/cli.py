"""The `keylock` command line: a table of commands, each building its own argument parser.

Each command lives in its own module with `add_arguments(parser)` and `run(args) -> int`;
modules are imported only when their command runs, so `keylock --help` stays fast.
"""

import argparse
import importlib
import sys

from .errors import KeylockError

# name: (module under keylock.host, one-line help)
COMMANDS = {
    "decode": ("cmd_decode", "decode a frame given in hex (argument or stdin) and print its fields"),
    "demo": ("cmd_demo", "the main job: a tour of the protocol through both codecs"),
    "tour": ("cmd_tour", "one of every message through construct and the firmware codec, as annotated hex"),
    "scenario": ("cmd_scenario", "run scenario files (shared/SCENARIOS.md) on emulated devices"),
    "emulate": ("cmd_emulate", "serve an emulated site's devices on a pty, socket:// and keylock:// until interrupted"),
    "flash": ("cmd_flash", "compile the firmware with mpy-cross and deploy it to a board with mpremote"),
    "bench": ("cmd_bench", "run the handshake or fleet benchmark and print its figures"),
    "physics": ("cmd_physics", "ask the physical models: opening, life, thermal"),
    "plot": ("cmd_plot", "draw battery, power, thermal or fleet figures to PNG"),
}

EPILOG = """\
Every command has its own --help, e.g. `keylock decode --help`.
Errors print `keylock: message` on stderr and exit 1 (2 for bad input)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keylock",
        description="Firmware, protocol, physics and tooling for a key-powered electronic lock system.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str):
    module = importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(
        prog=f"keylock {name}",
        description=(module.__doc__ or COMMANDS[name][1]).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    return module, parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        build_parser().print_usage(sys.stderr)
        print(f"keylock: unknown command {name!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, parser = command_parser(name)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeylockError as exc:
        print(f"keylock: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
