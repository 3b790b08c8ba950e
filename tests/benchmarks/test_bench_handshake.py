"""`keylock bench handshake --json`: the keys the issue fixes, and the sizes it measures.
Speeds are recorded in benchmarks/RESULTS.md, never asserted."""

import json

from keylock.host.cli import main


def test_bench_handshake_json(capsys):
    assert main(["bench", "handshake", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["round_trips"] == 2
    assert result["wire_bytes"] == 102 == sum(result["frames_bytes"])  # the CHALLENGE names the lock's compartment (5 bytes)
    assert result["frames_bytes"] == [30, 38, 17, 17]
    assert result["wire_time_ms"] == {"9600": 106.25, "57600": 17.708, "115200": 8.854, "1000000": 1.02}
    for runtime in ("cpython", "micropython"):
        assert set(result[runtime]) == {"handshake_us", "crypto_us", "ratio"}
        assert result[runtime]["handshake_us"] > 0 and result[runtime]["crypto_us"] > 0
    osdp = result["peers"]["libosdp"]
    assert (osdp["round_trips"], osdp["wire_bytes"]) == (2, 116)  # OSDP's published secure-channel set-up
    assert osdp["handshake_us"] > 0
