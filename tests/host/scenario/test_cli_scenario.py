"""`keylock scenario run`: exit 0/1/2, what it prints, --json, --runtime, and the engine factory."""

import json

import pytest
import scripted_engine

from keylock.host.cli import main
from keylock.host.emulator.engine import SiteEngine
from keylock.host.emulator.factory import ENGINE_ENV, make_engine
from keylock.host.scenario.engine import ScenarioEvent, StepResult

GOOD = """\
name: good
runtime: micropython
site:
  keys: [{id: K1}]
  locks: [{id: L1}]
steps:
  - grant: {key: K1, locks: [L1]}
  - validate: {key: K1}
  - open: {key: K1, lock: L1}
    expect: granted
  - advance: 10d
  - open: {key: K1, lock: L1}
    expect: {denied: validity_expired}
  - audit: {lock: L1}
    expect: [{key: K1, result: granted}, {key: K1, denied: validity_expired}]
"""
ANSWERS = {
    3: StepResult("granted", details={"energy_J": 0.02}),
    5: StepResult("denied", reason="validity_expired"),
    6: StepResult(events=[ScenarioEvent("K1", "granted"), ScenarioEvent("K1", "denied", "validity_expired")]),
}


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "scripted_engine:make")
    scripted_engine.CREATED.clear()
    scripted_engine.TABLES.clear()
    scripted_engine.TABLES["good"] = dict(ANSWERS)
    yield scripted_engine
    scripted_engine.TABLES.clear()


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.scenario.yaml"
    path.write_text(GOOD)
    return path


def test_exit_0_when_every_expectation_holds(scripted, good, capsys):
    assert main(["scenario", "run", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"== good ({good}, micropython)"
    assert out[1].split()[:3] == ["1", "grant", "key=K1"] and out[1].endswith("ok")
    assert out[3].split()[:2] == ["3", "open"] and out[3].endswith("granted  (energy_J=0.02)")
    assert out[4].split()[:3] == ["4", "advance", "seconds=10d"]
    assert out[5].endswith("{denied: validity_expired}")
    assert out[7] == f"PASSED: good ({good}, micropython), 6 of 6 steps"
    assert out[8] == "  openings: 1 granted, 1 denied (validity_expired 1)"
    assert scripted.CREATED[0].runtime == "micropython" and scripted.CREATED[0].closed


def test_the_runtime_flag_overrides_the_file(scripted, good, capsys):
    assert main(["scenario", "run", "--runtime", "cpython", str(good)]) == 0
    assert scripted.CREATED[0].runtime == "cpython"


def test_exit_1_says_which_step_and_what_was_seen(scripted, good, capsys):
    scripted.TABLES["good"][5] = StepResult("granted")
    assert main(["scenario", "run", str(good)]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[5].endswith("granted  FAILED")
    assert out[6].strip() == "step 5 (line 12): expected {denied: validity_expired}, saw granted"
    assert out[7].strip() == "result is granted, expected denied"
    assert f"FAILED at step 5: good ({good}, micropython), 5 of 6 steps" in captured.out
    assert captured.err == f"keylock: {good}:12: step 5 (open) expected {{denied: validity_expired}}, saw granted\n"
    assert len(scripted.CREATED[0].calls) == 5  # stopped at the failure


def test_exit_2_for_a_malformed_file_with_line_and_reason_and_nothing_runs(scripted, good, tmp_path, capsys):
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text(GOOD.replace("expect: granted", "expect: opened"))
    assert main(["scenario", "run", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"keylock: {bad}:10: expect of open (step 3) must be granted or {{denied: REASON}}, not opened\n"
    assert scripted.CREATED == []


def test_json_prints_one_object_per_step_and_a_summary(scripted, good, capsys):
    assert main(["scenario", "run", "--json", str(good)]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps, summary = objects[:-1], objects[-1]
    assert [o["type"] for o in steps] == ["step"] * 6 and summary["type"] == "summary"
    assert steps[2] == {
        "type": "step",
        "scenario": "good",
        "index": 3,
        "line": 9,
        "action": "open",
        "args": {"key": "K1", "lock": "L1", "hold_s": 2.0},
        "result": "granted",
        "reason": None,
        "code": None,
        "expected": "granted",
        "seen": "granted",
        "passed": True,
        "problem": None,
        "details": {"energy_J": 0.02},
    }
    assert steps[4]["reason"] == "validity_expired" and steps[3]["args"] == {"seconds": 864000.0}
    assert steps[5]["seen"] == "[{key: K1, result: granted}, {key: K1, denied: validity_expired}]"
    assert summary["passed"] is True and summary["failed_step"] is None and summary["runtime"] == "micropython"
    assert summary["openings"] == {"granted": 1, "denied": {"validity_expired": 1}}
    assert summary["details"]["open"]["energy_J"]["count"] == 1
    assert summary["engine"] == {"battery_soc": {"K1": 0.5}}


def test_json_with_several_files_ends_with_the_totals(scripted, good, tmp_path, capsys):
    other = tmp_path / "other.scenario.yaml"
    other.write_text(GOOD.replace("name: good", "name: other"))  # no answers: step 5 is granted, not denied
    assert main(["scenario", "run", "--json", str(good), str(other)]) == 1
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["type"] for o in objects].count("summary") == 2
    assert objects[-1] == {"type": "total", "scenarios": 2, "passed": 1, "failed": 1}
    failed = [o for o in objects if o["type"] == "step" and not o["passed"]]
    assert len(failed) == 1 and failed[0]["scenario"] == "other" and failed[0]["index"] == 5
    assert (failed[0]["expected"], failed[0]["seen"]) == ("{denied: validity_expired}", "granted")


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "run", "--runtime", "pypy", "x.scenario.yaml"])
    assert exc.value.code == 2
    assert main(["scenario", "run", "/nonexistent/x.scenario.yaml"]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_a_bad_factory_spec_is_a_usage_error(good, monkeypatch, capsys):
    monkeypatch.setenv(ENGINE_ENV, "no_colon_here")
    assert main(["scenario", "run", str(good)]) == 2
    assert "module:function" in capsys.readouterr().err
    monkeypatch.setenv(ENGINE_ENV, "scripted_engine:nothing")
    assert main(["scenario", "run", str(good)]) == 2
    assert "has no function 'nothing'" in capsys.readouterr().err


def test_without_a_factory_given_the_engine_is_the_emulators(monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    engine = make_engine("cpython", None)
    try:
        assert isinstance(engine, SiteEngine) and engine.runtime == "cpython"
    finally:
        engine.close()
