"""Every tester command against an emulated device reached through its pty, socket:// and
keylock:// (the `via` parameter): same command, same answer."""

import json

import pytest

from keylock.firmware.version import FW_VERSION
from keylock.host.cli import main
from keylock.host.emulator.site import KeyState
from keylock.host.testing.site import Site
from keylock.hw_models import battery_by_name
from keylock.protocol.codes import PROTOCOL_VERSION, MsgType
from keylock.protocol.frame import crc32, encode_frame

FIRMWARE = ".".join(map(str, FW_VERSION))

PHONES = {"pty": 7001, "socket": 7002, "url": 7003}  # one per endpoint kind: tests stay independent


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def cli_json(capsys, *argv):
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def port(served, name, via):
    return served.endpoint(name, via)


def test_info_names_role_id_and_firmware(served, via, capsys):
    for name in ("K1", "L1"):
        got = cli_json(capsys, "--port", port(served, name, via), "info")
        assert got == {
            "role": served.devices[name]["role"],
            "id": served.devices[name]["id"],
            "firmware": FIRMWARE,
            "protocol": PROTOCOL_VERSION,
            "board": f"keylock-{served.devices[name]['role']}",
        }
    code, out, _ = cli(capsys, "--port", port(served, "K1", via), "info")
    assert code == 0 and out == f'key 1001  firmware {FIRMWARE}  protocol {PROTOCOL_VERSION}  board "keylock-key"\n'


def test_the_same_command_gives_the_same_answer_from_every_endpoint(served, capsys):
    answers = {via: cli_json(capsys, "--port", port(served, "L1", via), "status") for via in PHONES}
    assert answers["pty"] == answers["socket"] == answers["url"]


def test_status_of_a_key_and_a_lock(served, via, capsys):
    key = cli_json(capsys, "--port", port(served, "K1", via), "status")
    assert key["role"] == "key" and key["key_id"] == 1001
    assert {"validated", "clock_set"} <= set(key["flags"]) and key["soc_permille"] <= 1000
    lock = cli_json(capsys, "--port", port(served, "L1", via), "status")
    assert lock["role"] == "lock" and lock["lock_id"] == served.devices["L1"]["id"] and lock["events"] >= 1
    code, out, _ = cli(capsys, "--port", port(served, "K1", via), "status")
    assert code == 0 and out.startswith("key 1001  battery ") and "validated until" in out
    code, out, _ = cli(capsys, "--port", port(served, "L1", via), "status")
    assert code == 0 and out.startswith("lock 101  ") and "highest time seen" in out


def test_time_is_read_and_set_on_a_key_and_a_lock_has_none(served, via, capsys):
    got = cli_json(capsys, "--port", port(served, "K1", via), "time")
    assert got["clock_set"] is True and got["iso"].startswith("20")
    # a provisioned key's clock is the server's to set: plain, it is refused and unchanged
    code, _, err = cli(capsys, "--port", port(served, "K1", via), "time", "--set", "2026-01-05T09:00:00Z")
    assert code == 1 and err == f"keylock: {port(served, 'K1', via)}: device answered TIME_SET with status not_signed\n"
    assert cli_json(capsys, "--port", port(served, "K1", via), "time")["iso"] != "2026-01-05T09:00:00Z"
    got = cli_json(capsys, "--port", port(served, "K1", via), "time", "--sync", "--server", served.server, "--key", "K1")
    assert got["key"] == "K1" and got["clock_set"] is True
    code, _, err = cli(capsys, "--port", port(served, "K1", via), "time", "--sync")
    assert code == 2 and "--sync needs --server DB and --key NAME" in err
    code, _, err = cli(capsys, "--port", port(served, "L1", via), "time")
    assert code == 1 and err.startswith("keylock: ") and "TIME_REQUEST with status unknown_command" in err
    code, _, err = cli(capsys, "--port", port(served, "K1", via), "time", "--set", "yesterday")
    assert code == 2 and "not a time: 'yesterday'" in err


def test_audit_of_a_lock_and_of_the_key_that_carries_its_events(served, via, capsys):
    lock = cli_json(capsys, "--port", port(served, "L1", via), "audit")["events"]
    assert lock[0] == {
        "position": 0,  # what --from takes: on a lock, its event seq
        "seq": 0,
        "epoch": 1,
        "time": lock[0]["time"],
        "key_id": 1001,
        "lock_id": 101,
        "outcome": "granted",
        "reason": "none",
        "count": 1,
        "mac": lock[0]["mac"],
    }
    assert len(lock[0]["mac"]) == 16  # 8 bytes in hex: the lock's MAC (the server checks it)
    carried = cli_json(capsys, "--port", port(served, "K1", via), "audit")["events"]
    assert {k: v for k, v in lock[0].items() if k != "position"} in [{k: v for k, v in e.items() if k != "position"} for e in carried]
    assert len(cli_json(capsys, "--port", port(served, "L1", via), "audit", "--last", "1")["events"]) == 1
    assert cli_json(capsys, "--port", port(served, "L1", via), "audit", "--from", "1000")["events"] == []
    code, out, _ = cli(capsys, "--port", port(served, "L1", via), "audit")
    assert code == 0 and out.splitlines()[0].split()[0] == "0"
    assert out.splitlines()[0].split()[2:] == ["key", "1001", "lock", "101", "#0", "granted"]


@pytest.fixture(scope="module")
def two_openers():
    """K1 then K2 twice open L1: K2 carries the lock's events 1 and 2 at its positions 0 and 1."""

    def build(site):
        for key in ("K1", "K2", "K2"):
            site.open(key, "L1")
        site.server.add_phone("P1")  # id 501
        site.server.add_key("NEW", "Holder 1")
        site.devices.add("NEW", "key")  # never provisioned: no clock, never validated
        site.keys["NEW"] = KeyState("NEW", battery_by_name("CR2032"), 1.0, 20.0)

    site = Site.emulate(keys=2, locks=1, build=build)
    yield site
    site.close()


def test_audit_from_starts_at_the_number_printed_first_on_either_role(two_openers, capsys):
    """The first column and --from mean the same thing on both roles: a key's position, not
    the lock's seq it prints after `#`, so starting from each printed number gives that event first."""
    carried = cli_json(capsys, "--port", two_openers.endpoint("K2", "socket"), "audit")["events"]
    assert [(e["position"], e["seq"]) for e in carried] == [(0, 1), (1, 2)]
    for name in ("L1", "K2"):
        url = two_openers.endpoint(name, "socket")
        events = cli_json(capsys, "--port", url, "audit")["events"]
        for event in events:
            assert cli_json(capsys, "--port", url, "audit", "--from", event["position"])["events"][0] == event, (name, event)
        code, out, _ = cli(capsys, "--port", url, "audit", "--from", events[-1]["position"])
        assert code == 0 and len(out.splitlines()) == 1 and out.split()[0] == str(events[-1]["position"])
    code, out, _ = cli(capsys, "--port", two_openers.endpoint("K2", "socket"), "audit")
    assert [line.split()[0] for line in out.splitlines()] == ["0", "1"] and "lock 101 #1" in out.splitlines()[0]
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    assert "the first column (a lock's event seq, a key's position" in " ".join(capsys.readouterr().out.split())


def test_validate_and_grant_from_the_site_server(served, via, capsys):
    k2 = port(served, "K2", via)
    got = cli_json(capsys, "--port", k2, "validate", "--server", served.server, "--key", "K2")
    assert got["key"] == "K2" and got["key_id"] == 1002 and got["rights"] == 1 and got["blocklist"] in ("updated", "current")
    assert got["audit_rejected"] == 0
    assert cli_json(capsys, "--port", k2, "status")["valid_until"] == got["valid_until"]
    granted = cli_json(capsys, "--port", k2, "grant", "--server", served.server, "--key", "K2")
    assert granted["key_id"] == 1002 and granted["rights"] == 1
    code, _, err = cli(capsys, "--port", k2, "validate", "--server", served.server, "--key", "K1")
    assert code == 1 and "is key 1002, not key 'K1' (1001 in " in err
    code, _, err = cli(capsys, "--port", k2, "grant", "--server", served.server, "--key", "nobody")
    assert code == 1 and "unknown key 'nobody'" in err
    code, _, err = cli(capsys, "--port", k2, "grant", "--server", "/nonexistent/site.db", "--key", "K2")
    assert code == 2 and "no access-server database at /nonexistent/site.db" in err
    code, _, err = cli(capsys, "--port", port(served, "L1", via), "validate", "--server", served.server, "--key", "K2")
    assert code == 1 and "is lock 101, not key 'K2'" in err


def test_pair_and_unpair(served, via, capsys):
    k1, phone = port(served, "K1", via), PHONES[via]
    SERVER_K1 = ("--server", served.server, "--key", "K1")  # the server signs the release
    assert cli_json(capsys, "--port", k1, "pair", "--phone", phone) == {"paired": phone}
    try:
        assert cli_json(capsys, "--port", k1, "status")["paired_phone"] == phone
        code, _, err = cli(capsys, "--port", k1, "pair", "--phone", phone + 100)
        assert code == 1 and "PAIR with status already_paired" in err
    finally:
        assert cli_json(capsys, "--port", k1, "unpair", "--phone", phone, *SERVER_K1) == {"unpaired": phone}
    code, _, err = cli(capsys, "--port", k1, "unpair", "--phone", phone, *SERVER_K1)
    assert code == 1 and "SIGNED_COMMAND with status not_paired" in err
    code, out, _ = cli(capsys, "--port", k1, "pair", "--phone", phone)
    assert (code, out) == (0, f"paired with phone {phone}\n")
    cli(capsys, "--port", k1, "unpair", "--phone", phone, *SERVER_K1)


def test_provision_once(served, via, capsys):
    new = port(served, f"new-{via}", via)
    assert cli_json(capsys, "--port", new, "info")["id"] == 0
    secret = "11" * 32
    code, _, err = cli(capsys, "--port", new, "provision", "--role", "key", "--id", "4242", "--secret", "11" * 31)
    assert code == 2 and "a secret is 32 bytes (64 hex digits), got 31" in err
    code, _, err = cli(capsys, "--port", new, "provision", "--role", "lock", "--id", "4242", "--secret", secret)
    assert code == 2 and "a lock needs its compartment's secret too" in err
    code, _, err = cli(
        capsys, "--port", new, "provision", "--role", "lock", "--id", "4242", "--secret", secret, "--compartment-secret", secret
    )
    assert code == 1 and "PROVISION with status wrong_role" in err
    code, _, err = cli(
        capsys, "--port", new, "provision", "--role", "key", "--id", "4242", "--secret", secret, "--compartment-secret", secret
    )
    assert code == 2 and "from the access server at validation" in err
    got = cli_json(capsys, "--port", new, "provision", "--role", "key", "--id", "4242", "--secret", secret)
    assert got == {"provisioned": "key", "id": 4242, "groups": []}
    assert cli_json(capsys, "--port", new, "info")["id"] == 4242
    code, _, err = cli(capsys, "--port", new, "provision", "--role", "key", "--id", "4243", "--secret", secret)
    assert code == 1 and "PROVISION with status not_signed" in err  # re-provisioning is the server's
    code, _, err = cli(capsys, "--port", new, "provision", "--role", "key", "--id", "1", "--secret", secret, "--groups", "1,2")
    assert code == 2 and "--groups is for a lock" in err


def test_raw_sends_a_frame_and_decodes_any_answer(served, via, capsys):
    got = cli_json(capsys, "--port", port(served, "L1", via), "raw", encode_frame(MsgType.INFO_REQUEST, {}, 9).hex())
    assert got["type"] == "INFO" and got["seq"] == 9 and got["fields"]["device_id"] == 101
    # a PAIR whose payload is one byte short: the frame checks, the message does not decode
    short = bytes([0xA5, 5, 0, MsgType.PAIR, 10, 1, 2, 3])
    short += crc32(short[1:]).to_bytes(4, "little")
    got = cli_json(capsys, "--port", port(served, "K1", via), "raw", short.hex())
    assert got["type"] == "RESULT" and got["seq"] == 10 and got["fields"] == {"code": "bad_request"}
    code, out, _ = cli(capsys, "--port", port(served, "L1", via), "raw", encode_message_hex())
    assert code == 0 and out.startswith("LOCK_STATUS  seq 11\n") and "lock_id" in out


def encode_message_hex():
    return encode_frame(MsgType.STATUS_REQUEST, {}, 11).hex()


def test_options_after_the_command_and_help(served, capsys):
    got = cli_json(capsys, "info", "--port", port(served, "K1", "socket"), "--timeout-ms", "500")
    assert got["role"] == "key"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--port URL" in out and "info" in out and "replay" in out


def test_a_phone_is_named_as_the_server_knows_it(two_openers, capsys):
    k1, server = two_openers.endpoint("K1", "socket"), ("--server", two_openers.server)
    code, out, _ = cli(capsys, "--port", k1, "pair", "--phone", "P1", *server)
    assert (code, out) == (0, "paired with phone P1 (501)\n")
    assert cli_json(capsys, "--port", k1, "status")["paired_phone"] == 501
    code, out, _ = cli(capsys, "--port", k1, "unpair", "--phone", "P1", *server, "--key", "K1")
    assert (code, out) == (0, "released from phone P1 (501)\n")
    assert cli_json(capsys, "--port", k1, "status")["paired_phone"] == 0
    # phone 0 is "no phone" on a key: refused, where the key would answer ok and stay unpaired
    code, out, err = cli(capsys, "--port", k1, "pair", "--phone", "0")
    assert (code, out) == (2, "") and err.startswith("keylock: phone 0 means no phone")


def test_status_says_what_a_zero_means(two_openers, capsys):
    code, out, _ = cli(capsys, "--port", two_openers.endpoint("NEW", "socket"), "status")
    assert code == 0 and out.splitlines()[1] == "clock not set  never validated  not paired"
    code, out, _ = cli(capsys, "--port", two_openers.endpoint("L1", "socket"), "status")
    assert code == 0 and "  3 events  blocklist v" in out and "(0 keys)" in out


def test_a_chain_runs_several_commands_in_one_session(two_openers, capsys, tmp_path):
    url, f = two_openers.endpoint("L1", "url"), tmp_path / "chain.jsonl"
    alone = [cli(capsys, "--port", url, *command)[1] for command in (["info"], ["audit", "--last", "1"])]
    code, out, _ = cli(capsys, "--port", url, "--record", f, "info", "+", "status", "+", "audit", "--last", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == alone[0].rstrip("\n") and lines[-1] == alone[1].rstrip("\n") and lines[1].startswith("lock 101  3 events")
    # one session, one connection: one session line, and one sequence of seqs across the commands
    recorded = [json.loads(line) for line in f.read_text().splitlines()]
    assert [line.get("session") is not None for line in recorded].count(True) == 1
    seqs = [bytes.fromhex(line["hex"])[4] for line in recorded if line.get("dir") == "tx"]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 4
    # --json before the first command: every command prints JSON
    code, out, _ = cli(capsys, "--port", url, "--json", "info", "+", "audit")
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and objects[0]["role"] == "lock" and [e["position"] for e in objects[1]["events"]] == [0, 1, 2]


def test_version_names_the_package_firmware_and_protocol(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"keylock {FIRMWARE}  firmware {FIRMWARE}  protocol {PROTOCOL_VERSION}\n"
    assert main(["--version", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"package": FIRMWARE, "firmware": FIRMWARE, "protocol": PROTOCOL_VERSION}
