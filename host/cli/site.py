"""Act on a running emulated site (`keylock emulate`) from the command line: every scenario
step has a command here, with the meaning it has in a scenario file (shared/SCENARIOS.md),
run by the same engine as `keylock scenario run`; and the site's administration.

  keylock emulate --keys 2 --locks 1 --clock manual     # prints {"emulate": {"hub": ...}}
  export KEYLOCK_HUB=127.0.0.1:40123                    # or --hub HOST:PORT on each command
  keylock site open K1 L1                               # granted
  keylock site block K1
  keylock site validate K2                              # K2 carries the new blocklist
  keylock site open K2 L1                               # L1 adopts it from K2
  keylock site open K1 L1 --expect '{denied: blocked}'  # exit 1 unless it is
  keylock site advance 10d
  keylock site audit L1

Steps: open, insert, remove, advance, grant, revoke, validate, block, unblock, pair, unpair,
remove-battery, set-temperature, set-battery, status, battery-report, audit, and `step YAML`
for a step written as in a file. `--expect VALUE` (as a file's `expect:`) makes the exit
code say whether it held: 0 held, 1 did not. Without it a denial or refusal is an answer
(exit 0), shown as it is.

The site: `holder add`, `key add`, `lock add`, `phone add`; `blank key|lock NAME` adds a
device the server knows but that is not provisioned, and prints the `keylock provision`
command that provisions it; `time` (the site's one clock) and `devices` (every endpoint).
`audit NAME --reason TEXT` reads the server's audit trail instead of the device, for a
stated reason, which the server records.

Bad input (an unknown key, a bad duration) is refused with one line and exit 2, and changes
nothing. --json prints the hub's answer as one JSON object.
"""

import argparse
import json
import sys

from ..errors import UsageError
from ..link.hub import HUB_ENV, HUB_FORM, HubControl
from ..scenario.model import DAY_NAMES, PARTS


def _csv(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one name")
    return items


def _days(text: str) -> list[str]:
    days = _csv(text.lower())
    unknown = [d for d in days if d not in DAY_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: days are {', '.join(DAY_NAMES)}")
    return days


def add_arguments(parser):
    parser.add_argument("--hub", metavar="HOST:PORT", help=f"the site's hub: {HUB_FORM}; default ${HUB_ENV}")
    parser.add_argument("--json", action="store_true", help="print the hub's answer as one JSON object")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def step(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--expect", metavar="VALUE", help="what the step must give, as a scenario's expect: (exit 1 if not)")
        return p

    p = step("open", "insert a key, run the whole transaction, take it out")
    p.add_argument("key")
    p.add_argument("lock")
    p.add_argument("--hold", metavar="DURATION", help="how long the key stays in (default 2s)")
    for name, text in (("insert", "insert a key and run the transaction; it stays in"), ("remove", "take an inserted key out")):
        p = step(name, text)
        p.add_argument("key")
        p.add_argument("lock")
    p = step("advance", "move the site's time on: batteries drain, locks cool, validations expire")
    p.add_argument("duration", metavar="DURATION", help="90s, 15m, 2h, 10d, 1d2h or seconds")
    for name, text in (("grant", "give a key access to locks or groups (at the server)"), ("revoke", "take access away")):
        p = step(name, text)
        p.add_argument("key")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--locks", type=_csv, metavar="L1,L2")
        which.add_argument("--groups", type=_csv, metavar="G1,G2")
        if name == "grant":
            p.add_argument("--days", type=_days, metavar="mon,tue,...", help="a weekly schedule's days (default every day)")
            p.add_argument("--from", dest="from_time", metavar="HH:MM", help="the schedule's start, site local time")
            p.add_argument("--to", dest="to_time", metavar="HH:MM", help="the schedule's end, site local time")
    p = step("validate", "validate a key through a phone's app (or the wall programmer) against the server")
    p.add_argument("key")
    p.add_argument("--phone", help="the phone relaying it")
    p.add_argument("--offline", action="store_true", help="the server cannot be reached")
    for name, text in (("block", "put a lost key on the blocklist"), ("unblock", "take a key off the blocklist")):
        step(name, text).add_argument("key")
    for name, text in (("pair", "pair a key with a phone"), ("unpair", "release a key from its phone, from the app")):
        p = step(name, text)
        p.add_argument("key")
        p.add_argument("phone")
    p = step("remove-battery", "take a key's battery out and put it back after --for")
    p.add_argument("key")
    p.add_argument("--for", dest="for_", required=True, metavar="DURATION")
    p = step("set-temperature", "set a key's or lock's surroundings, or heat one part of a lock")
    p.add_argument("device", help="a key or a lock")
    p.add_argument("celsius", type=float)
    p.add_argument("--part", choices=PARTS, help="a lock's part: warm only its body or its keyhole")
    p = step("set-battery", "set a key's state of charge")
    p.add_argument("key")
    p.add_argument("soc", type=float, help="0 to 1")
    step("status", "a key's or lock's status").add_argument("device", help="a key or a lock")
    step("battery-report", "the server's keys at or below 15 %")
    p = step("audit", "the events a lock holds or a key carries; with --reason, the server's trail")
    p.add_argument("device", help="a key or a lock")
    p.add_argument("--last", type=int, metavar="N", help="only the newest N")
    p.add_argument("--reason", help="read the server's audit trail instead, for this stated reason (recorded)")
    p.add_argument("--by", help="who reads it (with --reason; default `keylock site`)")
    p = step("step", "one step written as in a scenario file, e.g. '{advance: 61s}'")
    p.add_argument("yaml", metavar="YAML")

    for kind, text in (("holder", "a key holder and their ID06 card"), ("key", "a key"), ("lock", "a lock"), ("phone", "a phone")):
        group = sub.add_parser(kind, help=f"add {text} to the site").add_subparsers(dest="verb", metavar="VERB", required=True)
        p = group.add_parser("add", help=f"add {text}")
        p.add_argument("name")
        if kind in ("holder", "key"):
            p.add_argument("--id06", metavar="CARD", help="the holder's ID06 card number (default ID06-NAME)")
            p.add_argument("--id06-expires", metavar="DATE", help="the card's expiry (default in five years)")
        if kind == "key":
            _key_options(p)
        if kind == "lock":
            _lock_options(p)
        if kind in ("key", "lock"):
            p.add_argument("--blank", action="store_true", help="leave the device unprovisioned (see `blank`)")
    p = sub.add_parser("blank", help="add a key or lock the server knows but that is not provisioned yet")
    p.add_argument("role", choices=("key", "lock"))
    p.add_argument("name")
    _key_options(p)
    _lock_options(p, group_only=True)
    sub.add_parser("time", help="the site's time")
    sub.add_parser("devices", help="every device's endpoints")


def _key_options(p):
    p.add_argument("--holder", help="the key's holder (default: a holder of the key's name)")
    p.add_argument("--battery", help="CR2032 (default), CR2450, CR2")
    p.add_argument("--soc", type=float, help="state of charge, 0 to 1 (default 1)")
    p.add_argument("--temperature-C", type=float, help="its surroundings (default 20)")
    p.add_argument("--state", help="approved (default), issued, unapproved")


def _lock_options(p, group_only=False):
    p.add_argument("--group", help="the group (key bundle) it is in")
    if not group_only:
        p.add_argument("--kind", help="cylinder (default) or padlock")
        p.add_argument("--temperature-C", type=float, help="its surroundings (default 20)")


STEP_ACTIONS = {
    "open": "open",
    "insert": "insert",
    "remove": "remove",
    "advance": "advance",
    "grant": "grant",
    "revoke": "revoke",
    "validate": "validate",
    "block": "block",
    "unblock": "unblock",
    "pair": "pair",
    "unpair": "unpair",
    "remove-battery": "remove_battery",
    "set-temperature": "set_temperature",
    "set-battery": "set_battery",
    "status": "status",
    "battery-report": "battery_report",
    "audit": "audit",
}


def _step_yaml(args, role_of) -> str:
    """The step as a scenario file would say it (JSON is YAML): the hub's parser checks it."""
    action = STEP_ACTIONS[args.action]
    if args.action == "advance":
        body = args.duration
    elif args.action == "battery-report":
        body = {}
    elif args.action in ("status", "audit", "set-temperature"):
        body = {role_of(args.device): args.device}
        if args.action == "audit" and args.last is not None:
            body["last"] = args.last
        if args.action == "set-temperature":
            body["celsius"] = args.celsius
            if args.part:
                body["part"] = args.part
    else:
        body = {"key": args.key}
        for attr, field in (("lock", "lock"), ("phone", "phone"), ("hold", "hold"), ("for_", "for"), ("soc", "soc")):
            if getattr(args, attr, None) is not None:
                body[field] = getattr(args, attr)
        for which in ("locks", "groups"):
            if getattr(args, which, None):
                body[which] = getattr(args, which)
        if getattr(args, "offline", False):
            body["online"] = False
        if args.action == "grant" and (args.days or args.from_time or args.to_time):
            body["schedule"] = {"days": args.days or list(DAY_NAMES), "from": args.from_time or "00:00", "to": args.to_time or "24:00"}
    text = json.dumps({action: body})
    return text if args.expect is None else _with_expect(text, args.expect)


def _with_expect(step_text: str, expect: str) -> str:
    """The step with `expect:` added: a flow mapping `{...}` is opened into block lines."""
    step_text = step_text.strip()
    if step_text.startswith("{") and step_text.endswith("}"):
        step_text = step_text[1:-1]
    lines = expect.strip().splitlines() or [""]
    return f"{step_text}\nexpect:\n" + "\n".join("  " + line for line in lines)


def run(args) -> int:
    with HubControl(args.hub) as hub:
        if args.action in STEP_ACTIONS or args.action == "step":
            if args.action == "audit" and args.reason is not None:
                answer = _server_audit(hub, args)
            else:
                if args.action == "step":
                    text = args.yaml if args.expect is None else _with_expect(args.yaml, args.expect)
                else:
                    text = _step_yaml(args, lambda name: _role(hub, name))
                answer = hub.request({"op": "step", "step": text})
                return _show_step(args, answer)
        elif args.action in ("holder", "key", "lock", "phone"):
            answer = hub.request(_add_request(args, args.action, getattr(args, "blank", False)))
        elif args.action == "blank":
            answer = hub.request(_add_request(args, args.role, True))
        else:
            answer = hub.request({"op": args.action})
    answer.pop("ok", None)
    print(json.dumps(answer) if args.json else _text(args, answer))
    return 0


def _role(hub: HubControl, name: str) -> str:
    devices = hub.request({"op": "devices"})["devices"]
    if name not in devices:
        raise UsageError(f"the site has no device {name!r}; it has {', '.join(devices)}")
    return devices[name]["role"]


def _server_audit(hub: HubControl, args) -> dict:
    role = _role(hub, args.device)
    return hub.request({"op": "server_audit", role: args.device, "reason": args.reason, "by": args.by, "last": args.last})


def _add_request(args, kind: str, blank: bool) -> dict:
    request = {"op": f"{kind}_add", "name": args.name, "blank": blank}
    for attr in ("id06", "id06_expires", "holder", "battery", "soc", "temperature_C", "state", "group", "kind"):
        value = getattr(args, attr, None)
        if value is not None:
            request[attr] = value
    return request


def _show_step(args, answer: dict) -> int:
    answer.pop("ok", None)
    held = answer["passed"] if args.expect is not None else True
    if args.json:
        print(json.dumps(answer))
    else:
        print(_step_text(answer))
    if not held:
        print(f"keylock: expected {answer['expected']}, saw {answer['seen']}", file=sys.stderr)
        return 1
    return 0


def _step_text(answer: dict) -> str:
    result, action = answer["result"], answer["action"]
    if result == "denied":
        head = f"denied: {answer['reason']}"
    elif result == "error":
        head = f"error: {answer['code']}"
    else:
        head = result
    details = answer.get("details") or {}
    if action in ("open", "insert"):
        head += f"  ({details.get('energy_J', 0) * 1000:.1f} mJ, battery {details.get('soc', 0) * 100:.1f} %, {answer['time']})"
    elif action == "advance":
        head = f"now {answer['time']}"
    elif action == "status":
        return "\n".join(f"{name}: {_value(value)}" for name, value in answer["fields"].items())
    elif action == "battery_report":
        keys = answer["keys"] or []
        text = f"at or below 15 %: {', '.join(keys)}" if keys else "no key at or below 15 %"
        at_risk = answer.get("at_risk") or {}
        if at_risk:
            text += "\nat risk: " + ", ".join(f"{key} (fails {day})" for key, day in sorted(at_risk.items()))
        return text
    elif action == "audit":
        events = answer["events"] or []
        lines = [f"{e['key']}  {e['result']}" + (f": {e['reason']}" if e.get("reason") else "") for e in events]
        return "\n".join(lines) if lines else "no events"
    return head


def _value(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _text(args, answer: dict) -> str:
    if "events" in answer:  # the server's audit trail
        lines = [
            f"{e['time']}  {e['lock']} #{e['seq']}  {e['key']}  {e['result']}"
            + (f": {e['denied']}" if e["denied"] else "")
            + (f" ({e['count']} times)" if e["count"] != 1 else "")
            for e in answer["events"]
        ]
        return "\n".join(lines) if lines else "no events at the server"
    if "device" in answer:
        text = f"{answer['role']} {answer['device']} (id {answer['id']}) added: {answer['endpoints']['url']}"
        p = answer.get("provision")
        if p:
            command = f"keylock --port {answer['endpoints']['url']} provision --role {p['role']} --id {p['id']} --secret {p['secret']}"
            if p["role"] == "lock":
                command += f" --compartment-secret {p['compartment_secret']} --epoch {p['epoch']}"
                if p["groups"]:
                    command += f" --groups {','.join(str(g) for g in p['groups'])}"
            text += f"\nblank: provision it with\n  {command}"
        return text
    if "holder" in answer:
        return f"holder {answer['holder']} added (ID06 card {answer['id06']})"
    if "phone" in answer:
        return f"phone {answer['phone']} added (id {answer['id']})"
    if "clock" in answer:
        clock = answer["clock"]
        how = "manual: moves only when told" if clock["mode"] == "manual" else f"follows the wall clock x{clock['speed']:g}"
        return f"{answer['time']}  ({how})"
    if "devices" in answer:
        return "\n".join(
            f"{name:<8} {d['role']:<5} {d['id']:>6}  {d['url']}  {d['socket']}  {d['pty']}" for name, d in answer["devices"].items()
        )
    return json.dumps(answer)
