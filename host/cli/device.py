"""The tester commands: one device on one port, mpremote-style.

    keylock --port URL [--timeout-ms N] [--retries N] [--record FILE] COMMAND [...] [--json]
    keylock --port URL info + status + audit --last 5        (a chain: one session)

Each command is an object with the CLI's command interface (`add_arguments`, `run`) over
host/link/device.py's Device, which the pytest fixtures use too: the logic is there, here only
arguments and output. Human output is a line or a few; --json prints one object.

A command's `check` refuses bad input before any port opens, and `act` does the work on an
open Device: so a chain checks every command first, then runs them in order on one
connection (one Device, one recording session, one sequence of frame seqs).
"""

import json
import re

from ...protocol.codes import ErrorCode
from ..errors import UsageError
from ..link.device import Device, check_server, parse_time, phone_id, provision_fields
from ..link.transport import DeviceError
from ..render import field_lines, iso_time, jsonable, plural

DEVICE_OPTIONS = ("port", "timeout_ms", "retries", "record", "record_mode")


def _when(unix_s: int, unset: str) -> str:
    """A device time, or what its 0 means there (`not set`, `no time`)."""
    return iso_time(unix_s) if unix_s else unset


def _u32(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"not a number: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise UsageError(f"{value} is outside 0..4294967295")
    return value


def _phone(text: str) -> int | str:
    """A phone's id (a number), or its name at the access server (resolved with --server)."""
    try:
        int(text, 0)
    except ValueError:
        return text  # a name
    return _u32(text)


def _hex(text: str, what: str) -> bytes:
    cleaned = re.sub(r"0x|[\s:]", "", text, flags=re.IGNORECASE)
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise UsageError(f"{what} is not hex: {text!r}") from None


def _resolve_phone(args) -> int:
    """--phone as an id: a number as given, a name looked up in --server's phone table."""
    phone = args.phone
    if isinstance(phone, str):
        if not args.server:
            raise UsageError(
                f"--phone {phone!r} is not a number: give the phone's id, or --server DB to look the name up in its phone table"
            )
        check_server(args.server)
        phone = phone_id(args.server, phone)
    if phone == 0:
        raise UsageError("phone 0 means no phone: give a phone's id (1 or more) or its name with --server DB")
    return phone


def open_device(args) -> Device:
    timeout_ms = 1000 if args.timeout_ms is None else args.timeout_ms
    retries = 2 if args.retries is None else args.retries
    if timeout_ms <= 0:
        raise UsageError(f"--timeout-ms must be above 0, got {timeout_ms}")
    if retries < 0:
        raise UsageError(f"--retries must be at least 0, got {retries}")
    device = Device(args.port, timeout_ms=timeout_ms, retries=retries, record=args.record, record_mode=args.record_mode or "append")
    device.transport.check()  # the URL and the --record file: refused before anything is opened
    return device


def run_chain(commands: list) -> int:
    """Run device commands [(command, args)] in one session on one connection, in order,
    each printing its own output; every command's input is checked before the port opens."""
    first = commands[0][1]
    for _command, args in commands[1:]:
        if any(getattr(args, o) != getattr(first, o) for o in DEVICE_OPTIONS):
            raise UsageError(
                "a chain is one session on one connection: give --port and the other device options once, before the first command"
            )
    for command, args in commands:
        command.check(args)
    with open_device(first) as device:
        for command, args in commands:
            result, text = command.act(device, args)
            print(json.dumps(result) if args.json else text, flush=True)
    return 0


class DeviceCommand:
    needs_port = True

    def add_arguments(self, parser) -> None:
        self.arguments(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def arguments(self, parser) -> None:
        pass

    def check(self, args) -> None:
        """Refuse bad input (UsageError) before the port is opened: bad input changes nothing."""

    def run(self, args) -> int:
        return run_chain([(self, args)])

    @staticmethod
    def run_chain(commands: list) -> int:
        return run_chain(commands)

    def act(self, device: Device, args) -> tuple[dict, str]:
        raise NotImplementedError


class Info(DeviceCommand):
    """Ask the device who it is: role, id, firmware version, protocol version and board.

    keylock --port socket://127.0.0.1:40001 info
    key 1001  firmware 0.1.0  protocol 1  board "keylock-key"
    """

    def act(self, device, args):
        i = device.info()
        return i, f"{i['role']} {i['id']}  firmware {i['firmware']}  protocol {i['protocol']}  board {json.dumps(i['board'])}"


class Status(DeviceCommand):
    """A key's battery, clock, validation, pairing and temperature; a lock's blocklist,
    event count, clock guard (the highest authenticated time it has seen) and temperature."""

    def act(self, device, args):
        s = device.status()
        temp = f"{s['temperature_dC'] / 10:.1f} C"
        if s["role"] == "key":
            low = ", LOW" if "battery_low" in s["flags"] else ""
            if "validated" in s["flags"]:
                validated = f"validated until {iso_time(s['valid_until'])}"
            elif s["valid_until"]:
                validated = f"not validated (the last validation ran out at {iso_time(s['valid_until'])})"
            else:
                validated = "never validated"
            paired = f"paired with phone {s['paired_phone']}" if s["paired_phone"] else "not paired"
            clock = f"clock {iso_time(s['time'])}" if "clock_set" in s["flags"] else "clock not set"
            text = (
                f"key {s['key_id']}  battery {s['soc_permille'] / 10:.1f} % ({s['battery_mV']} mV{low})  {temp}\n"
                f"{clock}  {validated}  {paired}"
            )
        else:
            text = (
                f"lock {s['lock_id']}  {plural(s['events'], 'event')}  blocklist v{s['blocklist_version']} "
                f"({plural(s['blocklist_size'], 'key')})  {temp}\n"
                f"highest time seen {_when(s['highest_time'], 'none yet')}"
            )
        return s, text


class Time(DeviceCommand):
    """Read a key's real-time clock; --sync --server DB --key NAME sets it to the access
    server's time, signed by the server for that key. --set ISO-8601|now sets the clock of an
    unprovisioned key (at the factory); a provisioned key answers not_signed, since only the
    server may change its time. A lock has no clock: it answers unknown_command."""

    def arguments(self, parser):
        parser.add_argument("--set", metavar="ISO|now", help="set an unprovisioned key's clock, e.g. 2026-01-05T08:00:00Z or now")
        parser.add_argument("--sync", action="store_true", help="set the clock to the access server's (needs --server and --key)")
        parser.add_argument("--server", metavar="DB", help="the site's access-server database, for --sync")
        parser.add_argument("--key", metavar="NAME", help="the key's name at the server, for --sync")

    def check(self, args):
        if args.sync and (args.set is not None or not (args.server and args.key)):
            raise UsageError("--sync needs --server DB and --key NAME, and no --set")
        if not args.sync and (args.server or args.key):
            raise UsageError("--server and --key are for --sync")
        if args.sync:
            check_server(args.server)
        if args.set is not None:
            args.set_s = parse_time(args.set)

    def act(self, device, args):
        if args.sync:
            t = device.sync_time(args.server, args.key)
            return t, f"clock set to the server's time {t['iso']}"
        if args.set is not None:
            unix_s = args.set_s
            device.set_time(unix_s)
            return {"set": unix_s, "iso": iso_time(unix_s)}, f"clock set to {iso_time(unix_s)}"
        t = device.time()
        return t, f"{t['iso']}  ({t['unix_s']})" if t["clock_set"] else "clock not set"


class Audit(DeviceCommand):
    """The audit events a lock holds, or the lock events a key carries to the server,
    oldest first. The first column is where each event is, the number --from takes on
    either role: a lock's event seq; on a key, the event's position among those it carries
    (the lock's own seq follows the lock's id, as `lock 101 #7`). --last N keeps the newest N."""

    def arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="from_seq",
            type=_u32,
            default=0,
            metavar="N",
            help="start at the event numbered N in the first column (a lock's event seq, a key's position; default 0)",
        )
        parser.add_argument("--last", type=int, metavar="N", help="only the newest N events")

    def check(self, args):
        if args.last is not None and args.last < 1:
            raise UsageError(f"--last takes 1 or more, got {args.last}")

    def act(self, device, args):
        positioned = device.audit_positions(args.from_seq, args.last)
        lines = [
            f"{where:>6}  {_when(r['time'], 'no time'):<20}  key {r['key_id']}  lock {r['lock_id']} #{r['seq']}  {r['outcome']}"
            + (f" ({r['reason']})" if r["reason"] != "none" else "")
            + (f" x{r['count']}" if r["count"] != 1 else "")  # failed authentications are counted in one event
            for where, r in positioned
        ]
        events = [{"position": where, **r} for where, r in positioned]
        return {"events": events}, "\n".join(lines) if lines else "no events"


class _ServerCommand(DeviceCommand):
    def arguments(self, parser):
        parser.add_argument(
            "--server", required=True, metavar="DB", help="the site's access-server database (`server` in `keylock emulate`'s JSON line)"
        )
        parser.add_argument("--key", required=True, metavar="NAME", help="the key's name at the server")

    def check(self, args):
        check_server(args.server)


class Grant(_ServerCommand):
    """Store the key's access rights on it: the access server issues its signed credential
    (refusing a blocked, unapproved or expired-card key) and the key keeps it. The key's
    clock is not touched; `validate` also sets it and carries the blocklist."""

    def act(self, device, args):
        g = device.grant(args.server, args.key)
        validity = f"valid until {iso_time(g['valid_until'])}" if g["valid_until"] else "no validity (run `validate`)"
        return g, f"key {g['key']} ({g['key_id']}): {plural(g['rights'], 'access right')}, {validity}"


class Validate(_ServerCommand):
    """Validate the key as the phone app does: upload the events it carries and its battery
    reading to the access server, send it the signed credential and the server's time, and
    the signed blocklist. The server's clock is the wall clock."""

    def act(self, device, args):
        v = device.validate(args.server, args.key)
        text = (
            f"key {v['key']} ({v['key_id']}) validated until {iso_time(v['valid_until'])}: {plural(v['rights'], 'access right')}, "
            f"blocklist v{v['blocklist_version']} {v['blocklist']}, {plural(v['audit_uploaded'], 'event')} uploaded ({v['audit_new']} new)"
        )
        return v, text


PHONE_HELP = "the phone's id, or its name (e.g. P1) with --server DB"


class Pair(DeviceCommand):
    """Pair the key with a phone: its id at the access server, or its name there with
    --server DB (the server's phone table). A key paired with another phone answers
    already_paired. Phone 0 is refused: on a key it means no phone."""

    def arguments(self, parser):
        parser.add_argument("--phone", required=True, type=_phone, metavar="ID|NAME", help=PHONE_HELP)
        parser.add_argument("--server", metavar="DB", help="the site's access-server database, to look up a phone's name")

    def check(self, args):
        args.phone_id = _resolve_phone(args)

    def act(self, device, args):
        device.pair(args.phone_id)
        return {"paired": args.phone_id}, f"paired with phone {_phone_text(args)}"


def _phone_text(args) -> str:
    return f"{args.phone} ({args.phone_id})" if isinstance(args.phone, str) else str(args.phone_id)


class Unpair(_ServerCommand):
    """Release the key from its phone, as its app does: the access server signs the release
    for this key. Another phone's id answers not_paired."""

    def arguments(self, parser):
        super().arguments(parser)
        parser.add_argument("--phone", required=True, type=_phone, metavar="ID|NAME", help="the phone's id, or its name at the server")

    def check(self, args):
        super().check(args)
        args.phone_id = _resolve_phone(args)

    def act(self, device, args):
        device.unpair(args.server, args.phone_id, key=args.key)
        return {"unpaired": args.phone_id}, f"released from phone {_phone_text(args)}"


class Provision(DeviceCommand):
    """Give a new device its role, id and own secret (a key: the one it shares with the
    access server; a lock: its audit key), and a lock its groups and its compartment's secret
    (the compartment is its first group, or the lock alone in none). Secrets go to the
    device's secure storage, never its flash. Once only: a provisioned key answers not_signed
    (only the server may re-provision it), a provisioned lock bad_request."""

    def arguments(self, parser):
        parser.add_argument("--role", required=True, choices=["key", "lock"])
        parser.add_argument("--id", required=True, type=_u32, metavar="N", help="the device id the access server gave it")
        parser.add_argument("--secret", required=True, metavar="HEX", help="32 bytes in hex")
        parser.add_argument("--groups", default="", metavar="1,2", help="a lock's group ids, comma-separated")
        parser.add_argument("--compartment-secret", metavar="HEX", help="a lock's compartment secret, 32 bytes in hex")
        parser.add_argument("--epoch", type=_u32, default=1, metavar="N", help="a lock's provisioning count (default 1)")

    def check(self, args):
        try:
            groups = [_u32(g) for g in args.groups.split(",") if g.strip()]
        except UsageError as exc:
            raise UsageError(f"--groups: {exc}") from None
        if groups and args.role == "key":
            raise UsageError("--groups is for a lock; a key's groups come with its credential")
        if args.epoch > 0xFFFF:
            raise UsageError(f"--epoch is at most 65535, got {args.epoch}")
        compartment = None if args.compartment_secret is None else _hex(args.compartment_secret, "--compartment-secret")
        args.fields = provision_fields(args.role, args.id, _hex(args.secret, "--secret"), groups, compartment, args.epoch)
        args.group_ids = groups

    def act(self, device, args):
        try:
            device.provision_with(args.fields)
        except DeviceError as exc:
            hint = ALREADY_PROVISIONED.get(exc.code) if exc.code is not None else None
            if hint is None:
                raise
            raise DeviceError(f"{exc}: {hint}", exc.code) from None
        groups = args.group_ids
        return {"provisioned": args.role, "id": args.id, "groups": groups}, f"provisioned as {args.role} {args.id}" + (
            f" in groups {groups}" if groups else ""
        )


ALREADY_PROVISIONED = {
    ErrorCode.NOT_SIGNED: "the key is provisioned already, and only the access server may provision it again",
    ErrorCode.BAD_REQUEST: "the lock is provisioned already (or the fields are not a lock's)",
    ErrorCode.WRONG_ROLE: "the device was made for the other role",
}


class Raw(DeviceCommand):
    """Send one frame given in hex (as `keylock decode` prints them; the answer must carry
    the same seq) and print the decoded answer, whatever it is: an error RESULT is shown,
    not raised. A frame the device cannot check is ignored by it: no answer."""

    def arguments(self, parser):
        parser.add_argument("hex", help="the frame in hex")

    def check(self, args):
        args.frame = _hex(args.hex, "the frame")
        if len(args.frame) < 9:
            raise UsageError(f"a frame has at least 9 bytes (start, length, type, seq, CRC), got {len(args.frame)}")

    def act(self, device, args):
        answer = device.raw(args.frame)
        result = {"type": answer.type.name, "seq": answer.seq, "fields": jsonable(answer.fields), "hex": answer.raw.hex()}
        return result, "\n".join([f"{answer.type.name}  seq {answer.seq}", *field_lines(answer.fields)])


info = Info()
status = Status()
time = Time()
audit = Audit()
grant = Grant()
validate = Validate()
pair = Pair()
unpair = Unpair()
provision = Provision()
raw = Raw()
