"""The `keylock` command line: a table of commands, each building its own argument parser.

Each command lives in its own module with `add_arguments(parser)` and `run(args) -> int`
("module"), or is an object with those in a module that holds a group of commands
("module:object"); modules are imported only when their command runs, so `keylock --help`
stays fast.

Device options come before the command, as mpremote's `connect` does:

    keylock --port URL [--timeout-ms N] [--retries N] [--record FILE] COMMAND ...

A command that talks to a device (`needs_port = True`) also accepts them after its name;
one that does not refuses them, and a device command without a port says how to give one.
"""

import argparse
import importlib
import sys

from ..errors import KeylockError, UsageError

# name: (module under keylock.host.cli, one-line help)
COMMANDS = {
    "decode": ("decode", "decode a frame given in hex (argument or stdin) and print its fields"),
    "demo": ("demo", "the main job: the scenario library on emulated keys and locks, step by step, and a summary"),
    "tour": ("tour", "one of every message through construct and the firmware codec, as annotated hex"),
    "scenario": ("scenario", "run scenario files (shared/SCENARIOS.md) on emulated devices"),
    "emulate": ("emulate", "serve an emulated site's devices on a pty, socket:// and keylock:// until interrupted"),
    "site": ("site", "act on a running emulated site: open, advance, block, validate, add keys, blank devices"),
    "flash": ("flash", "compile the firmware with mpy-cross and deploy it to a board with mpremote"),
    "bench": ("bench", "list the benchmarks, or run one and print its figures"),
    "physics": ("physics", "ask the physical models: opening, life, thermal"),
    "plot": ("plot", "draw battery, power, thermal or fleet figures to PNG"),
    # tester commands: one device, on the port given by --port
    "info": ("device:info", "the device's role, id, firmware and board"),
    "status": ("device:status", "a key's battery, clock, validation and pairing; a lock's blocklist, events and clock guard"),
    "time": ("device:time", "read a key's clock, or set it (--set ISO|now)"),
    "audit": ("device:audit", "read the audit events a lock holds or a key carries"),
    "grant": ("device:grant", "store a key's signed access rights from the access server (--server DB --key NAME)"),
    "validate": ("device:validate", "validate a key against the access server, as the phone app does"),
    "pair": ("device:pair", "pair a key with a phone (--phone ID)"),
    "unpair": ("device:unpair", "release a key from its phone (--phone ID)"),
    "provision": ("device:provision", "give a new device its role, id, secret and groups"),
    "raw": ("device:raw", "send one frame given in hex and print the decoded answer"),
    "replay": ("replay", "send a --record'ed session's frames again and report answers that differ"),
}

# Options of the device commands, given before the command (or after it).
DEVICE_OPTIONS = {"--port", "--timeout-ms", "--retries", "--record"}
PORT_EXAMPLES = "/dev/ttyACM0, socket://127.0.0.1:7000, keylock://127.0.0.1:7000/K1 (see `keylock emulate`)"


def add_device_options(parser, default=None) -> None:
    """--port and friends; `default=argparse.SUPPRESS` after a command keeps the global ones."""
    d = {} if default is None else {"default": default}
    parser.add_argument("--port", metavar="URL", help=f"the device: a serial port or pyserial URL, e.g. {PORT_EXAMPLES}", **d)
    parser.add_argument("--timeout-ms", type=int, metavar="N", help="wait this long for each answer (default 1000)", **d)
    parser.add_argument(
        "--retries", type=int, metavar="N", help="send a request again this many times on silence or a damaged answer (default 2)", **d
    )
    parser.add_argument(
        "--record", metavar="FILE", help="write every frame of the session to FILE as JSON lines (for `keylock replay`)", **d
    )


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
    add_device_options(parser.add_argument_group("device options (before the command)"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str):
    module_name, _, attr = COMMANDS[name][0].partition(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    if attr:
        module = getattr(module, attr)
    parser = argparse.ArgumentParser(
        prog=f"keylock {name}",
        description=(module.__doc__ or COMMANDS[name][1]).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    if getattr(module, "needs_port", False):
        add_device_options(parser.add_argument_group("device options (also accepted before the command)"), argparse.SUPPRESS)
    return module, parser


def split_device_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """The leading device options, and the command with its arguments."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-h", "--help"):
        option = argv[i].split("=", 1)[0]
        if option not in DEVICE_OPTIONS:
            raise UsageError(f"unknown option {argv[i]!r} before the command; options there: {', '.join(sorted(DEVICE_OPTIONS))}")
        i += 1 if "=" in argv[i] else 2
    if i > len(argv):
        raise UsageError(f"{argv[-1]} needs a value")
    return argv[:i], argv[i:]


def device_defaults(options: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="keylock", add_help=False)
    add_device_options(parser)
    namespace = parser.parse_args(options)
    return namespace


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        options, argv = split_device_options(argv)
    except UsageError as exc:
        build_parser().print_usage(sys.stderr)
        print(f"keylock: {exc}", file=sys.stderr)
        return exc.exit_code
    if not argv or argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        build_parser().print_usage(sys.stderr)
        print(f"keylock: unknown command {name!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, parser = command_parser(name)
    needs_port = getattr(module, "needs_port", False)
    if options and not needs_port:
        print(
            f"keylock: {', '.join(o.split('=')[0] for o in options if o.startswith('-'))} is for device commands, not `{name}`",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(rest, namespace=device_defaults(options)) if needs_port else parser.parse_args(rest)
    if needs_port and not args.port:
        print(f"keylock {name}: needs a device: keylock --port URL {name} ... (URL: {PORT_EXAMPLES})", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except KeylockError as exc:
        print(f"keylock: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
