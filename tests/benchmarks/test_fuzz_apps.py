"""The fuzzing campaign (benchmarks/fuzz_apps.py): its main runs a tiny campaign and prints
JSON; on MicroPython it runs the same frames as on CPython. Findings are asserted in
tests/firmware/test_fw_fuzz_apps.py; speeds are recorded, never asserted."""

import json

import pytest

from keylock.benchmarks import fuzz_apps

TIMING = {"seconds", "frames_per_s", "wall_seconds", "runtime"}


def run_main(capsys, *args):
    rc = fuzz_apps.main(["--frames", "400", "--chunk", "200", "--seed", "3", "--json", *args])
    captured = capsys.readouterr()
    return rc, json.loads(captured.out), captured.err


def test_main_runs_a_tiny_campaign_and_prints_json(capsys):
    rc, r, err = run_main(capsys)
    assert rc == (1 if fuzz_apps.findings(r) else 0)
    assert r["runtime"] == "cpython" and r["seed"] == 3 and r["chunks"] == 2
    assert r["frames"] >= 400 and r["frames"] == r["contact_frames"] + r["host_frames"]
    assert r["transactions"] > 0 and r["frames_per_s"] > 0
    assert r["pulses"] == r["authorised_pulses"] + r["unauthorised_pulses"]
    for key in ("escaped", "escaped_by", "examples", "unauthorised_examples", "accepted_bad_proofs", "malformed_replies", "coverage"):
        assert key in r
    assert err.count("cpython: ") == 2  # progress, one line a chunk, on stderr


def test_the_report_names_the_figures(capsys):
    rc = fuzz_apps.main(["--frames", "200", "--seed", "3"])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    for words in ("frames/s", "motor pulses", "escaped", "coverage", "key.on_lock_frame:idle"):
        assert words in out


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit) as e:
        fuzz_apps.main(["--frames", "0"])
    assert e.value.code == 2


@pytest.mark.micropython
@pytest.mark.slow
def test_micropython_runs_the_same_frames_as_cpython(capsys):
    _rc, cp, _err = run_main(capsys)
    _rc, mp, err = run_main(capsys, "--runtime", "micropython")
    assert mp["runtime"] == "micropython"
    assert "micropython: " in err
    assert comparable(mp) == comparable(cp)


def comparable(r):
    """A campaign's figures without timings, and its examples without the runtime's wording."""
    out = {k: v for k, v in r.items() if k not in TIMING}
    for k in ("examples", "unauthorised_examples", "malformed_examples"):
        out[k] = [{f: v for f, v in e.items() if f not in ("message", "at")} for e in r[k]]
    return out
