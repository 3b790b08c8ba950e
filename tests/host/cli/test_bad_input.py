"""The acceptance table of issue 12: bad invocations of `keylock`, each its own test.

Every case runs against an emulated site served on real endpoints (its own, so what the
table checks is this module's alone) and asserts what the README promises: no traceback,
exactly one line on stderr starting `keylock` (with --json: one JSON object on stdout and
nothing on stderr), the exit code (2 for bad input, 1 for a refusal by the world), and
nothing changed: every device's status, audit trail and identity, the access server's
tables and the files beside the command are as they were. Most cases run main() in this
process; those marked PROC run the installed `keylock` as a real process, because the ones
the issue found printed their traceback from the real entry point.
"""

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.host.cli import main
from keylock.host.emulator.site import KeyState
from keylock.host.link.device import Device
from keylock.host.testing.site import Site
from keylock.hw_models import battery_by_name

# Fields the physical world moves while a test runs: not a change made by the command.
MOVING = {"time", "soc_permille", "battery_mV", "temperature_dC"}
PROC = "proc"  # run as a real process


def build(site):
    site.open("K1", "L1")  # L1 holds an event, K1 carries it
    site.server.add_phone("P1")
    site.server.add_key("NEW", "Holder 1")  # known to the server, never provisioned
    site.devices.add("NEW", "key")
    site.keys["NEW"] = KeyState("NEW", battery_by_name("CR2032"), 1.0, 20.0)


@pytest.fixture(scope="module")
def site():
    s = Site.emulate(keys=2, locks=1, build=build)
    yield s
    s.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(site: Site) -> dict:
    """What a command could have changed: each device (identity, status, audit trail) and
    the server's tables (all but the emulator's clock anchor, which it moves by itself)."""
    state: dict = {}
    for name in ("K1", "K2", "L1", "NEW"):
        with Device(site.endpoint(name, "socket")) as device:
            status = {k: v for k, v in device.status().items() if k not in MOVING}
            state[name] = {"info": device.info(), "status": status, "audit": device.audit()}
    with sqlite3.connect(f"file:{site.server}?mode=ro", uri=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table != "emulated_clock":
                state[f"db.{table}"] = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    return state


def files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def case(case_id, argv, exit_code, *marks):
    return pytest.param(argv, exit_code, PROC in marks, id=case_id)


K1 = ["--port", "{K1}"]
L1 = ["--port", "{L1}"]
SECRET = "11" * 32

CASES = [
    # the command line itself
    case("no_command", [], 2),
    case("unknown_command", ["frobnicate"], 2),
    case("unknown_option_before", ["--bogus", "info"], 2),
    case("unknown_option_after", [*K1, "info", "--bogus"], 2),
    case("port_without_value", ["--port"], 2),
    case("device_command_without_port", ["status"], 2, PROC),
    case("device_option_to_decode", [*K1, "decode", "a5"], 2),
    case("version_with_extra", ["--version", "--port", "x"], 2),
    # phones
    case("pair_phone_name_without_server", [*K1, "pair", "--phone", "P1"], 2, PROC),
    case("pair_unknown_phone_name", [*K1, "pair", "--phone", "P9", "--server", "{DB}"], 2),
    case("pair_phone_0", [*K1, "pair", "--phone", "0"], 2),
    case("pair_phone_above_u32", [*K1, "pair", "--phone", str(2**32)], 2, PROC),
    case("pair_phone_negative", [*K1, "pair", "--phone", "-1"], 2),
    case("pair_without_phone", [*K1, "pair"], 2),
    case("unpair_without_arguments", [*K1, "unpair"], 2, PROC),
    case("unpair_missing_server_db", [*K1, "unpair", "--phone", "1", "--server", "{MISSING}", "--key", "K1"], 2),
    case("unpair_a_phone_not_paired", [*K1, "unpair", "--phone", "P1", "--server", "{DB}", "--key", "K1"], 1),
    # provisioning
    case("provision_id_not_a_number", ["--port", "{NEW}", "provision", "--role", "key", "--id", "abc", "--secret", SECRET], 2, PROC),
    case("provision_bad_role", ["--port", "{NEW}", "provision", "--role", "door", "--id", "7", "--secret", SECRET], 2),
    case("provision_secret_not_hex", ["--port", "{NEW}", "provision", "--role", "key", "--id", "7", "--secret", "zz"], 2),
    case("provision_secret_short", ["--port", "{NEW}", "provision", "--role", "key", "--id", "7", "--secret", "11" * 31], 2),
    case("provision_lock_without_compartment", ["--port", "{NEW}", "provision", "--role", "lock", "--id", "7", "--secret", SECRET], 2),
    case(
        "provision_key_with_groups", ["--port", "{NEW}", "provision", "--role", "key", "--id", "7", "--secret", SECRET, "--groups", "1"], 2
    ),
    case(
        "provision_group_not_a_number",
        ["--port", "{NEW}", "provision", "--role", "key", "--id", "7", "--secret", SECRET, "--groups", "1,x"],
        2,
    ),
    case(
        "provision_epoch_too_big", ["--port", "{NEW}", "provision", "--role", "key", "--id", "7", "--secret", SECRET, "--epoch", "70000"], 2
    ),
    case("provision_a_provisioned_key", [*K1, "provision", "--role", "key", "--id", "7", "--secret", SECRET], 1),
    case(
        "provision_a_provisioned_lock",
        [*L1, "provision", "--role", "lock", "--id", "7", "--secret", SECRET, "--compartment-secret", SECRET],
        1,
    ),
    # audit, time, raw
    case("audit_from_not_a_number", [*L1, "audit", "--from", "x"], 2, PROC),
    case("audit_from_negative", [*L1, "audit", "--from", "-1"], 2),
    case("audit_last_0", [*L1, "audit", "--last", "0"], 2),
    case("time_set_not_a_time", [*K1, "time", "--set", "yesterday"], 2),
    case("time_sync_without_server", [*K1, "time", "--sync"], 2),
    case("time_set_on_a_provisioned_key", [*K1, "time", "--set", "2026-01-05T09:00:00Z"], 1),
    case("raw_not_hex", [*L1, "raw", "zz"], 2),
    case("raw_too_short", [*L1, "raw", "a50100"], 2),
    # the access server
    case("grant_missing_server_db", [*K1, "grant", "--server", "{MISSING}", "--key", "K1"], 2),
    case("grant_not_a_server_db", [*K1, "grant", "--server", "{NOTDB}", "--key", "K1"], 2),
    case("grant_an_empty_file_as_server", [*K1, "grant", "--server", "{EMPTY}", "--key", "K1"], 2),
    case("pair_name_in_an_empty_file", [*K1, "pair", "--phone", "P1", "--server", "{EMPTY}"], 2),
    case("grant_unknown_key", [*K1, "grant", "--server", "{DB}", "--key", "nobody"], 1),
    case("grant_another_keys_name", [*K1, "grant", "--server", "{DB}", "--key", "K2"], 1),
    case("validate_without_key", [*K1, "validate", "--server", "{DB}"], 2),
    # device options
    case("record_into_a_missing_folder", [*K1, "--record", "{TMP}/no-such-folder/s.jsonl", "info"], 2, PROC),
    case("record_mode_unknown", [*K1, "--record", "{TMP}/s.jsonl", "--record-mode", "sideways", "info"], 2),
    case("record_with_a_bad_url", ["--port", "socket://127.0.0.1", "--record", "{TMP}/s.jsonl", "info"], 2),
    case("timeout_ms_0", [*K1, "--timeout-ms", "0", "info"], 2),
    case("timeout_ms_not_a_number", [*K1, "--timeout-ms", "soon", "info"], 2),
    case("retries_negative", [*K1, "--retries", "-1", "info"], 2),
    # ports and URLs
    case("hwgrep_nothing", ["--port", "hwgrep://keylock-matches-nothing", "info"], 1, PROC),
    case("socket_without_port", ["--port", "socket://127.0.0.1", "info"], 2, PROC),
    case("socket_port_out_of_range", ["--port", "socket://127.0.0.1:99999", "info"], 2),
    case("socket_unknown_option", ["--port", "socket://127.0.0.1:{FREE}?colour=red", "info"], 2),
    case("socket_nothing_listening", ["--port", "socket://127.0.0.1:{FREE}", "info"], 1),
    case("rfc2217_bad_timeout", ["--port", "rfc2217://127.0.0.1:{FREE}?timeout=-1", "info"], 2),
    case("keylock_timeout_negative", ["--port", "{K1}?timeout=-1", "info"], 2),
    case("keylock_noise_2", ["--port", "{K1}?noise=2", "info"], 2),
    case("keylock_unknown_option", ["--port", "{K1}?colour=red", "info"], 2),
    case("keylock_without_device", ["--port", "keylock://{HUB}", "info"], 2),
    case("keylock_unknown_device", ["--port", "keylock://{HUB}/K99", "info"], 1),
    case("unknown_scheme", ["--port", "bogus://x", "info"], 2),
    case("no_such_tty", ["--port", "/dev/keylock-no-such-tty", "info"], 1),
    case("not_a_serial_port", ["--port", "/dev/null", "info"], 1),
    case("loop_bad_logging_level", ["--port", "loop://?logging=loud", "info"], 2, PROC),
    case("spy_without_port", ["--port", "spy://", "info"], 2),
    case("flash_nothing_listening", ["flash", "--port", "socket://127.0.0.1:{FREE}", "--role", "key"], 1, PROC),
    case("flash_bad_url", ["flash", "--port", "socket://127.0.0.1", "--role", "key"], 2),
    case("replay_missing_file", [*K1, "replay", "{TMP}/none.jsonl"], 2),
    # chains: every command is checked before the port opens, so a bad last one stops the first
    case("chain_bad_last_command", [*K1, "pair", "--phone", "7301", "+", "pair", "--phone", "0"], 2),
    case("chain_with_decode", [*K1, "info", "+", "decode", "a5"], 2),
    case("chain_empty_command", [*K1, "info", "+"], 2),
    case("chain_two_ports", [*K1, "info", "+", "status", "--port", "{L1}"], 2),
    # --json: the error as JSON on stdout
    case("json_phone_0", [*K1, "pair", "--phone", "0", "--json"], 2, PROC),
    case("json_argparse_error", [*K1, "audit", "--from", "x", "--json"], 2),
    case("json_bad_url", ["--port", "socket://127.0.0.1", "--json", "info"], 2),
    case("json_device_refusal", [*K1, "time", "--set", "now", "--json"], 1),
]


def keylock_process(argv: list[str]) -> tuple[int, str, str]:
    script = Path(sys.executable).with_name("keylock")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "keylock.host.cli"]
    proc = subprocess.run([*command, *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def keylock_in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's errors exit, as they do from the real command
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_is_the_size_the_issue_asks():
    assert len(CASES) >= 40
    assert sum(c.values[2] for c in CASES) >= 10  # real processes among them


@pytest.mark.parametrize("argv, exit_code, as_process", CASES)
def test_a_bad_invocation_is_one_line_with_its_exit_code_and_changes_nothing(site, tmp_path, capsys, argv, exit_code, as_process):
    hub = site.endpoint("K1", "url").split("/")[2]
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("not a database\n")
    (tmp_path / "empty.db").write_bytes(b"")  # SQLite would make a database of it
    values = {
        "K1": site.endpoint("K1", "url"),
        "L1": site.endpoint("L1", "url"),
        "NEW": site.endpoint("NEW", "socket"),
        "HUB": hub,
        "DB": site.server,
        "MISSING": str(tmp_path / "missing" / "site.db"),
        "NOTDB": str(not_a_db),
        "EMPTY": str(tmp_path / "empty.db"),
        "TMP": str(tmp_path),
        "FREE": str(free_port()),
    }
    argv = [a.format(**values) for a in argv]
    files_before = files(tmp_path)
    before = snapshot(site)

    code, out, err = keylock_process(argv) if as_process else keylock_in_process(argv, capsys)

    assert "Traceback" not in out + err, err
    assert code == exit_code, (code, out, err)
    if "--json" in argv:
        assert err == ""
        (line,) = out.splitlines()
        got = json.loads(line)
        assert set(got) == {"error", "exit_code"} and got["exit_code"] == exit_code and got["error"]
    else:
        assert out == ""
        assert len(err.splitlines()) == 1 and err.startswith("keylock") and err.endswith("\n"), err
    assert files(tmp_path) == files_before  # no recording or database left behind, none written
    assert snapshot(site) == before
