"""`keylock decode`, `keylock tour` and the CLI's help and error conventions."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.host.cli.commands import COMMANDS, main
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import encode_frame
from keylock.protocol.vectors import load

VECTORS = {v["id"]: v for v in load()}
HELLO = VECTORS["hs_hello"]["hex"]


def test_decode_prints_type_and_fields(capsys):
    assert main(["decode", HELLO]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HS_HELLO (0x01)  seq 0  30 bytes")
    assert "  key_id            1001\n" in out and "  nonce             101112131415161718191a1b1c1d1e1f\n" in out
    assert "  protocol_version  5\n" in out


def test_decode_json_names_codes_and_hexes_bytes(capsys):
    assert main(["decode", "--json", VECTORS["decision_denied_blocked"]["hex"]]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["type"] == "DECISION" and got["secured"] is True
    assert got["fields"] == {"lock_id": 101, "outcome": "denied", "reason": "blocked", "blocklist_version": 4}


def test_decode_reads_stdin_with_separators(capsys, monkeypatch):
    spaced = " ".join(HELLO[i : i + 2] for i in range(0, len(HELLO), 2))
    monkeypatch.setattr("sys.stdin", io.StringIO("0x" + spaced + "\n"))
    assert main(["decode", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fields"]["key_id"] == 1001


@pytest.mark.parametrize(
    "text, code, message",
    [
        ("zz", 2, "not hex: character 'z'"),
        ("a51", 2, "odd number of hex digits"),
        ("", 2, "no hex given"),
        (HELLO[:-2] + "00", 1, "not a valid frame (bad_check)"),
        (HELLO[:-4], 1, "not a valid frame (truncated)"),
        ("00" + HELLO[2:], 1, "not a valid frame (bad_start)"),
    ],
)
def test_decode_errors_are_clear(capsys, text, code, message):
    assert main(["decode", text]) == code
    err = capsys.readouterr().err
    assert err.startswith("keylock: ") and message in err


def test_decode_stream_finds_frames_in_noise(capsys):
    noisy = "00a501ff" + HELLO + "a5" + VECTORS["result_ok"]["hex"] + "ffff"
    assert main(["decode", "--stream", "--json", noisy]) == 0
    types = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert types == ["HS_HELLO", "RESULT"]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_command_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_tour_checks_every_vector_on_every_codec(capsys):
    assert main(["tour", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines.pop()["summary"]
    assert len(lines) == len(VECTORS) == summary["messages"]
    assert all(all(line["checks"].values()) and "firmware_micropython" in line["checks"] for line in lines)
    assert summary["handshake_bytes"] == 102


def decoded_text(capsys, hex_text: str) -> str:
    assert main(["decode", hex_text]) == 0
    return capsys.readouterr().out


def test_decode_prints_values_as_a_person_knows_them(capsys):
    credential = decoded_text(capsys, VECTORS["credential"]["hex"])
    assert "        days      Mon-Fri  (31)\n        from_min  07:00  (420 min)\n        to_min    16:00  (960 min)\n" in credential
    assert "        days      every day  (127)\n        from_min  00:00  (0 min)\n        to_min    24:00  (1440 min)\n" in credential
    assert "    rights: 2 items\n" in credential and "    macs: 1 item\n" in credential  # not "1 item(s)"
    assert "    offset_change_min  +60 min\n" in credential and "offset_change_at   1774746000  (2026-03-29T01:00:00Z)" in credential
    assert '  board             "rp2-pico"\n' in decoded_text(capsys, VECTORS["info_key"]["hex"])
    status = decoded_text(capsys, VECTORS["key_status"]["hex"])
    assert "  flags           battery_low, validated, clock_set, paired  (15)\n" in status
    assert "  battery_mV      2950 mV\n  soc_permille    14.0 %\n" in status and "  temperature_dC  -5.5 C\n" in status
    # a 0 that means "none" says so, instead of a date in 1970 or "never"
    blank = {"key_id": 1001, "battery_mV": 3000, "soc_permille": 900, "flags": 0, "time": 0, "valid_until": 0, "paired_phone": 0}
    text = decoded_text(capsys, encode_frame(MsgType.KEY_STATUS, {**blank, "temperature_dC": 200}, 1).hex())
    assert "  flags           none  (0)\n  time            0  (not set)\n  valid_until     0  (not validated)\n" in text
    assert "  paired_phone    0  (not paired)\n" in text and "never" not in text


def keylock(argv: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("keylock")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "keylock.host.cli"]
    return subprocess.run([*command, *argv], input=stdin, capture_output=True, timeout=60)


def test_decode_stream_takes_a_binary_capture_on_stdin():
    pair = encode_frame(MsgType.PAIR, {"phone_id": 501}, 3)
    capture = b"\xff\x00boot: rst cause 1\r\n" + pair + b"\xa5\x01" + bytes.fromhex(VECTORS["result_ok"]["hex"]) + b"\xfe"
    got = keylock(["decode", "--stream", "--json"], capture)
    assert got.returncode == 0, got.stderr
    frames = [json.loads(line) for line in got.stdout.decode().splitlines()]
    assert [(f["type"], f["fields"]) for f in frames] == [("PAIR", {"phone_id": 501}), ("RESULT", {"code": "ok"})]
    # --binary says so even for bytes that happen to be hex digits
    assert keylock(["decode", "--stream", "--binary"], b"a5a5").stderr == b"keylock: no valid frame in 4 bytes\n"
    assert keylock(["decode", "--stream"], b"a5a5").stderr == b"keylock: no valid frame in 2 bytes\n"  # hex text
    # one frame (no --stream) must be hex: a capture is refused with the way to read it
    got = keylock(["decode"], capture)
    assert got.returncode == 2 and got.stderr.decode() == "keylock: stdin is not hex: for a binary capture, use --stream\n"
