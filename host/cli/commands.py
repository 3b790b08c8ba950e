"""The `keylock` command line: a table of commands, each building its own argument parser.

Each command lives in its own module with `add_arguments(parser)` and `run(args) -> int`
("module"), or is an object with those in a module that holds a group of commands
("module:object"); modules are imported only when their command runs, so `keylock --help`
stays fast.

Device options come before the command, as mpremote's `connect` does:

    keylock --port URL [--timeout-ms N] [--retries N] [--record FILE] [--json] COMMAND ... [+ COMMAND ...]

A command that talks to a device (`needs_port = True`) also accepts them after its name;
one that does not refuses them, and a device command without a port says how to give one.
"""

import argparse
import importlib
import json
import sys

from ..errors import KeylockError, UsageError

# name: (module under keylock.host.cli, one-line help)
COMMANDS = {
    "decode": ("decode", "decode a frame given in hex (argument or stdin) and print its fields"),
    "simulate": ("simulate", "the main job: a whole site for months on emulated devices, with the operator's reports"),
    "demo": ("demo", "the scenario library on emulated keys and locks, step by step, and a summary"),
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
    "pair": ("device:pair", "pair a key with a phone (--phone ID, or NAME with --server DB)"),
    "unpair": ("device:unpair", "release a key from its phone (--phone ID or NAME; signed by --server DB for --key NAME)"),
    "provision": ("device:provision", "give a new device its role, id, secret and groups"),
    "raw": ("device:raw", "send one frame given in hex and print the decoded answer"),
    "replay": ("replay", "send a --record'ed session's frames again and report answers that differ"),
}

# Options of the device commands, given before the command (or after it).
DEVICE_OPTIONS = {"--port", "--timeout-ms", "--retries", "--record", "--record-mode"}
PORT_EXAMPLES = "/dev/ttyACM0, socket://127.0.0.1:7000, keylock://127.0.0.1:7000/K1 (see `keylock emulate`)"
CHAIN = "+"  # keylock --port URL info + status + audit: one session, one connection


class Failure:
    """How an error reaches the user: one line `keylock: message` on stderr, or with --json
    anywhere on the command line one JSON object on stdout (and nothing on stderr)."""

    as_json = False

    @classmethod
    def report(cls, message: str, exit_code: int) -> int:
        if cls.as_json:
            print(json.dumps({"error": message, "exit_code": exit_code}))
        else:
            print(f"keylock: {message}", file=sys.stderr)
        return exit_code


class Parser(argparse.ArgumentParser):
    """argparse with keylock's errors: one line naming the command, exit 2, no usage block
    (`--help` shows it). A type function may raise UsageError as well as ValueError."""

    def error(self, message: str):  # type: ignore[override]  # argparse's contract: never returns
        command = self.prog.removeprefix("keylock").strip()
        where = f"{command}: " if command else ""
        Failure.report(f"{where}{message} (see `{self.prog} --help`)", 2)
        raise SystemExit(2)

    def _get_value(self, action, arg_string):
        try:
            return super()._get_value(action, arg_string)
        except UsageError as exc:
            raise argparse.ArgumentError(action, str(exc)) from None


def add_device_options(parser, default=None) -> None:
    """--port and friends; `default=argparse.SUPPRESS` after a command keeps the global ones."""
    d = {} if default is None else {"default": default}
    parser.add_argument("--port", metavar="URL", help=f"the device: a serial port or pyserial URL, e.g. {PORT_EXAMPLES}", **d)
    parser.add_argument("--timeout-ms", type=int, metavar="N", help="wait this long for each answer (default 1000)", **d)
    parser.add_argument(
        "--retries", type=int, metavar="N", help="send a request again this many times on silence or a damaged answer (default 2)", **d
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="add every frame of the session to FILE as JSON lines (for `keylock replay`); the folder must exist",
        **d,
    )
    parser.add_argument(
        "--record-mode",
        choices=["append", "overwrite"],
        help="append the session to FILE (default: several runs make one recording) or overwrite it",
        **d,
    )


EPILOG = """\
Every command has its own --help, e.g. `keylock decode --help`.

Device commands chain with `+`, one session on one connection (as mpremote's):
  keylock --port keylock://127.0.0.1:7000/K1 info + status + audit --last 5

Errors print `keylock: message` on stderr and exit 1 (2 for bad input, which changes
nothing); with --json, `{"error": message, "exit_code": N}` on stdout."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="keylock",
        description="Firmware, protocol, physics and tooling for a key-powered electronic lock system.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the package, firmware and protocol versions (with --json: as JSON)")
    group = parser.add_argument_group("device options (before the command)")
    add_device_options(group)
    group.add_argument("--json", action="store_true", help="every command of the chain prints JSON (and an error is JSON on stdout)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str):
    module_name, _, attr = COMMANDS[name][0].partition(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    if attr:
        module = getattr(module, attr)
    parser = Parser(
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
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-h", "--help", "--version"):
        if argv[i] == "--json":  # before the command: every command of a chain prints JSON
            i += 1
            continue
        option = argv[i].split("=", 1)[0]
        if option not in DEVICE_OPTIONS:
            raise UsageError(f"unknown option {argv[i]!r} before the command; options there: {', '.join(sorted(DEVICE_OPTIONS))}, --json")
        i += 1 if "=" in argv[i] else 2
    if i > len(argv):
        raise UsageError(f"{argv[-1]} needs a value")
    return argv[:i], argv[i:]


def device_defaults(options: list[str]) -> argparse.Namespace:
    parser = Parser(prog="keylock", add_help=False)
    add_device_options(parser)
    return parser.parse_args(options)


def versions() -> dict:
    """The package's version, the firmware's it carries and the protocol's (the firmware's
    version is the project's one version: pyproject.toml reads it)."""
    import importlib.metadata

    from ...firmware.version import FW_VERSION
    from ...protocol.codes import PROTOCOL_VERSION

    try:
        package = importlib.metadata.version("keylock")
    except importlib.metadata.PackageNotFoundError:
        package = "not installed"
    return {"package": package, "firmware": ".".join(map(str, FW_VERSION)), "protocol": PROTOCOL_VERSION}


def split_chain(argv: list[str]) -> list[list[str]]:
    """`info + status --json + audit` -> [[info], [status, --json], [audit]]."""
    segments: list[list[str]] = [[]]
    for arg in argv:
        if arg == CHAIN:
            segments.append([])
        else:
            segments[-1].append(arg)
    return segments


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    Failure.as_json = "--json" in argv
    try:
        return _main(argv)
    except KeylockError as exc:
        return Failure.report(str(exc), exc.exit_code)
    except BrokenPipeError:  # the reader went away (`keylock ... | head`): nothing left to say
        return 0
    except KeyboardInterrupt:
        return Failure.report("interrupted", 1)
    except OSError as exc:  # the system refused something no check foresaw (a full disk, a file gone)
        return Failure.report(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc), 1)
    finally:
        Failure.as_json = False


def _main(argv: list[str]) -> int:
    options, argv = split_device_options(argv)
    if argv and argv[0] == "--version":
        if len(argv) > 1 and argv[1:] != ["--json"] or options:
            raise UsageError("--version takes only --json")
        v = versions()
        print(json.dumps(v) if "--json" in argv else f"keylock {v['package']}  firmware {v['firmware']}  protocol {v['protocol']}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        if not argv:
            raise UsageError(f"no command given; commands: {', '.join(COMMANDS)} (see `keylock --help`)")
        build_parser().print_help()
        return 0
    segments = split_chain(argv)
    if "--json" in options:
        options = [o for o in options if o != "--json"]
        segments = [segment + ["--json"] if segment and "--json" not in segment else segment for segment in segments]
    parsed = [_parse(segment, options, chained=len(segments) > 1) for segment in segments]
    if len(parsed) == 1:
        module, args = parsed[0]
        return int(module.run(args) or 0)
    return parsed[0][0].run_chain(parsed)  # only device commands chain (they have `act`)


def _parse(argv: list[str], options: list[str], chained: bool):
    """(command module or object, its parsed arguments); bad input raises before anything runs."""
    if not argv:
        raise UsageError(f"an empty command in a chain: `keylock --port URL info {CHAIN} status`")
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise UsageError(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    module, parser = command_parser(name)
    needs_port = getattr(module, "needs_port", False)
    if chained and not hasattr(module, "run_chain"):
        raise UsageError(f"`{name}` does not chain: only device commands do (info, status, time, audit, grant, ...)")
    if options and not needs_port:
        raise UsageError(f"{', '.join(o.split('=')[0] for o in options if o.startswith('-'))} is for device commands, not `{name}`")
    args = parser.parse_args(rest, namespace=device_defaults(options)) if needs_port else parser.parse_args(rest)
    if needs_port and not args.port:
        raise UsageError(f"{name}: needs a device: keylock --port URL {name} ... (URL: {PORT_EXAMPLES})")
    return module, args


if __name__ == "__main__":
    sys.exit(main())
