"""`keylock site`: the emulated world driven from the command line against a served site.

The acceptance test drives every library scenario step by step through `keylock site`
commands (one per step, built from the file's text as a tester would type them) against the
scenario's site served with a manual clock, and checks every step gives what `keylock scenario
run` gives for the same file: result, reason, code, what was seen against the expectation,
the virtual time and the key's battery after each opening.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from keylock.host.cli import main
from keylock.host.emulator.served import ServedSite
from keylock.host.server import AccessServer

LIBRARY = sorted((Path(__file__).parents[3] / "host" / "scenario" / "library").glob("*.scenario.yaml"))
TWO_PHONES = next(p for p in LIBRARY if p.name == "two_phones.scenario.yaml")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --- a scenario file's steps as `keylock site` command lines ---------------------------------


def _raw(node):
    """A YAML node as Python values, every scalar as the text written (as the parser reads it)."""
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, SequenceNode):
        return [_raw(n) for n in node.value]
    assert isinstance(node, MappingNode)
    return {k.value: _raw(v) for k, v in node.value}


def _flow(node) -> str:
    """The node written again as one line of YAML, its scalars as they were written."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, SequenceNode):
            n.flow_style = True
            stack += n.value
        elif isinstance(n, MappingNode):
            n.flow_style = True
            stack += [v for _k, v in n.value]
    return yaml.serialize(node, width=1 << 16).strip().removesuffix("...").strip()


def steps_as_argv(path: Path) -> list[list[str]]:
    root = yaml.compose(path.read_text())
    steps = next(v for k, v in root.value if k.value == "steps")
    commands = []
    for step in steps.value:
        entries = {k.value: v for k, v in step.value}
        expect = entries.pop("expect", None)
        ((action, args_node),) = entries.items()
        argv = command_for(action, _raw(args_node))
        if expect is not None:
            argv += ["--expect", _flow(expect)]
        commands.append(argv)
    return commands


def command_for(action: str, a) -> list[str]:
    """What a tester types for one step: the positional names, then the options."""
    if action == "advance":
        return ["advance", a]
    if action == "battery_report":
        return ["battery-report"]
    if action in ("status", "audit"):
        argv = [action, a.get("key") or a["lock"]]
        return argv + (["--last", a["last"]] if "last" in a else [])
    if action == "set_temperature":
        argv = ["set-temperature", a.get("key") or a["lock"], a["celsius"]]
        return argv + (["--part", a["part"]] if "part" in a else [])
    argv = [action.replace("_", "-"), a["key"]]
    if action in ("open", "insert", "remove"):
        argv.append(a["lock"])
    if action in ("pair", "unpair"):
        argv.append(a["phone"])
    if action == "set_battery":
        argv.append(a["soc"])
    if "hold" in a:
        argv += ["--hold", a["hold"]]
    if "for" in a:
        argv += ["--for", a["for"]]
    if action == "validate":
        argv += ["--phone", a["phone"]] if "phone" in a else []
        argv += ["--offline"] if a.get("online") in ("false", "no", "off") else []
    for which in ("locks", "groups"):
        if which in a:
            argv += [f"--{which}", ",".join(a[which])]
    if "schedule" in a:
        s = a["schedule"]
        argv += ["--days", ",".join(s["days"]), "--from", s["from"], "--to", s["to"]]
    return argv


def runner_steps(capsys, path: Path) -> list[dict]:
    code, out, err = cli(capsys, "scenario", "run", path, "--json")
    assert code == 0, err
    return [line for line in map(json.loads, out.splitlines()) if line["type"] == "step"]


def comparable(answer: dict) -> dict:
    details = answer["details"] or {}
    return {
        "action": answer["action"],
        "result": answer["result"],
        "reason": answer["reason"],
        "code": answer["code"],
        "seen": answer["seen"],
        "passed": answer["passed"],
        "time": details.get("time"),
        "soc": details.get("soc"),
    }


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name.split(".")[0])
def test_a_library_scenario_driven_through_the_cli_matches_scenario_run(path, capsys):
    expected = runner_steps(capsys, path)
    served = ServedSite(scenario=str(path), clock="manual").start()
    try:
        hub = served.announcement["hub"]
        seen = []
        for argv in steps_as_argv(path):
            code, out, err = cli(capsys, "site", "--hub", hub, "--json", *argv)
            assert code == 0, f"keylock site {' '.join(argv)}: {err}"
            seen.append(json.loads(out))
    finally:
        served.stop()
    assert len(seen) == len(expected)
    for number, (ours, theirs) in enumerate(zip(seen, expected, strict=True), 1):
        assert comparable(ours) == comparable(theirs), f"step {number}"


def test_real_processes_emulate_with_a_manual_clock_and_site_commands_one_per_process(tmp_path):
    """The same as a tester's shell: `keylock emulate` in the background, then one `keylock
    site` process per step of a library scenario, each exit code 0 because its expect held."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    emulate = subprocess.Popen(
        [sys.executable, "-m", "keylock.host.cli", "emulate", str(TWO_PHONES), "--clock", "manual"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert emulate.stdout is not None
        announcement = json.loads(emulate.stdout.readline())["emulate"]
        assert announcement["clock_mode"] == "manual" and announcement["speed"] == 0
        env["KEYLOCK_HUB"] = announcement["hub"]
        for argv in steps_as_argv(TWO_PHONES):
            done = subprocess.run([sys.executable, "-m", "keylock.host.cli", "site", *argv], capture_output=True, text=True, env=env)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (argv, done.stdout, done.stderr)
        # an expectation that does not hold: exit 1 and the reason on one line
        done = subprocess.run(
            [sys.executable, "-m", "keylock.host.cli", "site", "status", "K1", "--expect", "{paired_phone: null}"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 1 and done.stderr.startswith("keylock: expected {paired_phone: null}, saw {paired_phone: ")
    finally:
        emulate.terminate()
        emulate.wait(30)


# --- the manual clock --------------------------------------------------------------------------


@pytest.fixture
def manual_site():
    served = ServedSite(keys=2, locks=1, clock="manual").start()
    yield served
    served.stop()


def test_a_manual_clock_moves_only_when_told_and_the_server_reads_the_same_time(manual_site, capsys):
    hub = manual_site.announcement["hub"]
    db = manual_site.announcement["server"]
    start = json.loads(cli(capsys, "site", "--hub", hub, "--json", "time")[1])
    with AccessServer.open(db) as server:
        assert server._now() == int(start["unix_s"])  # the server follows the hub's clock
    manual_site.call(lambda site: None)  # a round of the serving loop: no wall-clock drift
    assert json.loads(cli(capsys, "site", "--hub", hub, "--json", "time")[1])["unix_s"] == start["unix_s"]
    cli(capsys, "site", "--hub", hub, "advance", "1d2h")
    now = json.loads(cli(capsys, "site", "--hub", hub, "--json", "time")[1])
    assert now["unix_s"] == start["unix_s"] + 93600 and now["clock"]["mode"] == "manual"
    with AccessServer.open(db) as server:
        assert server._now() == int(start["unix_s"]) + 93600


def test_a_battery_out_59_s_keeps_the_clock_and_61_s_loses_it_exactly(manual_site, capsys):
    hub = manual_site.announcement["hub"]
    code, _, err = cli(capsys, "site", "--hub", hub, "remove-battery", "K1", "--for", "59s")
    assert code == 0, err
    assert cli(capsys, "site", "--hub", hub, "status", "K1", "--expect", "{clock_set: true}")[0] == 0
    assert cli(capsys, "site", "--hub", hub, "remove-battery", "K2", "--for", "61s")[0] == 0
    code, _, err = cli(capsys, "site", "--hub", hub, "status", "K2", "--expect", "{clock_set: true}")
    assert code == 1 and err == "keylock: expected {clock_set: true}, saw {clock_set: false}\n"


# --- building the site from the command line -----------------------------------------------------


def test_a_holder_key_and_lock_added_from_the_cli_open_after_grant_and_validate(manual_site, capsys):
    hub = manual_site.announcement["hub"]
    site = ["site", "--hub", hub]
    assert cli(capsys, *site, "holder", "add", "Anna Berg", "--id06", "BB-1")[0] == 0
    code, out, err = cli(capsys, *site, "--json", "key", "add", "K3", "--holder", "Anna Berg")
    assert code == 0, err
    added = json.loads(out)
    assert added["role"] == "key" and added["endpoints"]["url"].endswith("/K3") and "provision" not in added
    assert cli(capsys, *site, "lock", "add", "L2", "--group", "annex", "--kind", "padlock")[0] == 0
    assert cli(capsys, *site, "open", "K3", "L2", "--expect", "{denied: not_validated}")[0] == 0
    assert cli(capsys, *site, "grant", "K3", "--groups", "annex")[0] == 0
    assert cli(capsys, *site, "validate", "K3")[0] == 0
    assert cli(capsys, *site, "open", "K3", "L2", "--expect", "granted")[0] == 0
    # the new key is a device like the others: readable on its own endpoint
    code, out, _ = cli(capsys, "--port", added["endpoints"]["socket"], "info")
    assert code == 0 and out.startswith(f"key {added['id']} ")


def test_a_blank_key_and_lock_are_provisioned_from_outside_and_then_open(manual_site, capsys):
    hub = manual_site.announcement["hub"]
    site = ["site", "--hub", hub]
    devices = {}
    for role, name, extra in (("lock", "L9", ["--group", "yard"]), ("key", "K9", ["--holder", "Yard Keeper"])):
        code, out, err = cli(capsys, *site, "--json", "blank", role, name, *extra)
        assert code == 0, err
        devices[name] = json.loads(out)
        p = devices[name]["provision"]
        url = devices[name]["endpoints"]["url"]
        # a blank device answers as one: not provisioned
        assert json.loads(cli(capsys, "--port", url, "info", "--json")[1])["id"] == 0
        argv = ["--port", url, "provision", "--role", role, "--id", p["id"], "--secret", p["secret"]]
        if role == "lock":
            argv += ["--compartment-secret", p["compartment_secret"], "--epoch", p["epoch"], "--groups", ",".join(map(str, p["groups"]))]
        code, out, err = cli(capsys, *argv)
        assert code == 0 and out.startswith(f"provisioned as {role} {p['id']}"), err
    assert cli(capsys, *site, "grant", "K9", "--locks", "L9")[0] == 0
    assert cli(capsys, *site, "validate", "K9")[0] == 0
    assert cli(capsys, *site, "open", "K9", "L9", "--expect", "granted")[0] == 0
    # and the server's audit trail, read for a stated reason, has that opening once uploaded
    assert cli(capsys, *site, "validate", "K9")[0] == 0
    code, out, _ = cli(capsys, *site, "--json", "audit", "L9", "--reason", "commissioning check", "--by", "tester")
    events = json.loads(out)["events"]
    assert code == 0 and [(e["key"], e["result"]) for e in events] == [("K9", "granted")]


# --- bad input: one line, exit 2, nothing changed ----------------------------------------------

BAD = [
    (["open", "K9", "L1"], "unknown key 'K9'"),
    (["open", "K1", "L7"], "unknown lock 'L7'"),
    (["open", "K1", "L1", "--hold", "soon"], "'soon' is not a duration"),
    (["step", "{advance: -5s}"], "not a duration"),
    (["advance", "5x"], "not a duration"),
    (["set-battery", "K1", "1.5"], "soc must be from 0 to 1"),
    (["set-temperature", "K1", "-300"], "celsius must be from -273.15"),
    (["set-temperature", "K1", "30", "--part", "body"], "part applies to a lock"),
    (["status", "X1"], "the site has no device 'X1'"),
    (["grant", "K1", "--groups", "nowhere"], "no lock is in group 'nowhere'"),
    (["grant", "K1", "--locks", "L1", "--from", "25:00"], "not a time of day"),
    (["pair", "K1", "P7"], "unknown phone 'P7'"),
    (["open", "K1", "L1", "--expect", "opened"], "expect of open must be"),
    (["step", "{fly: {key: K1}}"], "unknown action 'fly'"),
    (["step", "{open: {key: K1, lock: L1}, advance: 1s}"], "two actions"),
    (["key", "add", "K1"], "already has a key or device named 'K1'"),
    (["key", "add", "K5", "--battery", "AA"], "unknown battery 'AA'"),
    (["key", "add", "K5", "--soc", "2"], "soc is a number from 0 to 1"),
    (["key", "add", "K5", "--state", "lost"], "state is one of approved"),
    (["lock", "add", "L5", "--kind", "door"], "kind is one of cylinder, padlock"),
    (["holder", "add", "Holder 1"], "already has a holder"),
    (["holder", "add", "Z", "--id06-expires", "someday"], "not an ISO date"),
    (["audit", "L1", "--reason", ""], "reason for reading the audit trail"),
]


def _state(served) -> tuple:
    """Everything a bad request could have changed: the site's time, devices and server rows."""
    db = served.announcement["server"]
    with AccessServer.open(db) as server:
        counts = tuple(len(server.names(t)) for t in ("keys", "locks", "groups", "phones", "holders"))
        retrievals = len(server.audit_retrievals())
    time = served.call(lambda site: (site.now_s, sorted(site.keys), sorted(site.locks), [k.soc for k in site.keys.values()]))
    return counts, retrievals, time


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(argv) for argv, _ in BAD])
def test_bad_site_input_is_one_line_exit_2_and_changes_nothing(manual_site, capsys, argv, message):
    before = _state(manual_site)
    code, out, err = cli(capsys, "site", "--hub", manual_site.announcement["hub"], *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("keylock: ") and message in err
    assert _state(manual_site) == before


def test_without_a_hub_it_says_how_to_give_one(capsys, monkeypatch):
    monkeypatch.delenv("KEYLOCK_HUB", raising=False)
    code, _, err = cli(capsys, "site", "time")
    assert code == 2 and "give --hub HOST:PORT" in err and "KEYLOCK_HUB" in err
    code, _, err = cli(capsys, "site", "--hub", "nohost", "time")
    assert code == 2 and "expected HOST:PORT" in err
    code, _, err = cli(capsys, "site", "--hub", "127.0.0.1:1", "time")
    assert code == 1 and "cannot reach the hub at 127.0.0.1:1" in err


# --- keylock emulate's own bad input ------------------------------------------------------------

EMULATE_BAD = [
    (["--duration", "-1"], "--duration must be above 0"),
    (["--duration", "0"], "--duration must be above 0"),
    (["--speed", "0"], "--speed must be above 0"),
    (["--clock", "manual", "--speed", "2"], "--speed is for --clock wall"),
    (["--keys", "0"], "--keys and --locks take 1 to"),
    (["--host", "8.8.8.8", "--duration", "1"], "cannot serve on 8.8.8.8"),
    (["--host", "no.such.host.invalid", "--duration", "1"], "cannot serve on no.such.host.invalid"),
    (["no-such.scenario.yaml"], "no-such.scenario.yaml:0: cannot read the file"),
]


@pytest.mark.parametrize("argv, message", EMULATE_BAD, ids=[" ".join(argv) for argv, _ in EMULATE_BAD])
def test_emulate_refuses_bad_input_in_one_line_and_leaves_no_folder(argv, message, tmp_path):
    """A real process with its own temporary folder: a refused start leaves nothing there."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "keylock.host.cli", "emulate", *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("keylock: ") and message in done.stderr
    assert list(tmp_path.iterdir()) == []
