"""`keylock decode`, `keylock tour` and the CLI's help and error conventions."""

import io
import json

import pytest

from keylock.host.cli.commands import COMMANDS, main
from keylock.protocol.vectors import load

VECTORS = {v["id"]: v for v in load()}
HELLO = VECTORS["hs_hello"]["hex"]


def test_decode_prints_type_and_fields(capsys):
    assert main(["decode", HELLO]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HS_HELLO (0x01)  seq 0  30 bytes")
    assert "  key_id            1001\n" in out and "  nonce             101112131415161718191a1b1c1d1e1f\n" in out
    assert "  protocol_version  4\n" in out


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
