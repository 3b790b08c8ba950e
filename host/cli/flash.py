"""Compile the firmware with mpy-cross and deploy it to a MicroPython board with mpremote,
then check that the board answers INFO as the role asked for, with this firmware's version.

    keylock flash --port /dev/ttyACM0 --role lock --board pico
    keylock flash --port /dev/pts/3 --role key --board webassembly --json

Steps, each with the real tools, as you would run them by hand: mpy-cross compiles the
firmware the manifest lists (--board pico|esp32: with that board's port, compiled for its
CPU); mpremote asks the board what it is (--board refuses a board of another sys.platform),
copies the modules to /lib/keylock_fw/ with a main.py that starts the role's loop (with a
board port: the key-lock contact too, beside the host link), checks every file by SHA-256
and resets the board; then keylock asks INFO over the same port. The device's flash
(provisioning, audit trail) is kept.
"""

import json

from ..errors import UsageError
from ..link.transport import check_reachable, check_url
from ..runtime.deploy import PIN_MAPS, ROLES, flash


def add_arguments(parser) -> None:
    parser.add_argument(
        "--port", required=True, metavar="URL", help="the board's serial port: /dev/ttyACM0, /dev/pts/N, socket://host:port, ..."
    )
    parser.add_argument("--role", required=True, choices=ROLES, help="which firmware the board runs")
    parser.add_argument(
        "--board",
        metavar="NAME",
        help=f"the board: {', '.join(PIN_MAPS)} (its port, pin map and mpy-cross -march), or a sys.platform to insist on (nrf, webassembly, ...)",
    )
    parser.add_argument(
        "--any-platform",
        action="store_true",
        help="copy even when the board's sys.platform is not --board's (a custom build, or a stand-in such as the emulated board)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--timeout", type=float, default=20.0, metavar="S", help="how long to wait for the INFO answer after the reset (default 20)"
    )


def run(args) -> int:
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be above 0 seconds, got {args.timeout:g}")
    check_url(args.port)  # a malformed URL: exit 2, before any tool runs
    check_reachable(args.port)  # refused at once, where mpremote would retry for seconds
    report = flash(args.port, args.role, args.board, args.timeout, args.any_platform)
    if args.json:
        print(json.dumps(report))
        return 0
    b = report["board"]
    info = report["info"]
    src = sum(c["source_bytes"] for c in report["compiled"])
    mpy = sum(c["mpy_bytes"] for c in report["compiled"])
    modules = [c["module"] for c in report["compiled"]]
    print(f"flashed the {report['role']} firmware to {report['port']} in {report['seconds']} s")
    print(f"  board:    {b['platform']}, MicroPython {b['micropython']}, .mpy version {b['mpy_version']}")
    arch = f" for {report['mpy_arch']} ({report['pin_map']})" if report["mpy_arch"] else ""
    print(f"  compiled: {len(modules)} modules{arch} with {report['mpy_cross'] or 'mpy-cross'}: {src} bytes of .py -> {mpy} bytes of .mpy")
    print(f"            {', '.join(modules)}")
    print(f"  copied:   {len(report['copied'])} files, each checked by SHA-256 on the board:")
    for c in report["copied"]:
        print(f"            {c['path']} ({c['bytes']} bytes)")
    version = f"{info['fw_major']}.{info['fw_minor']}.{info['fw_patch']}"
    print(
        f"  INFO:     role {info['role']}, firmware {version}, protocol {info['protocol_version']}, board {json.dumps(info['board'])}, device id {info['device_id']}"
    )
    return 0
