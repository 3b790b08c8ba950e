"""`keylock scenario run` for CI: --timeout stops a hung scenario (exit 42), --jobs runs files at
once with output still grouped per file, the exit code is the worst file's, --junit-xml, and
bad options refused before anything runs.

The child processes load a small engine written into the test's folder (hang_engine.py, below)
through KEYLOCK_SCENARIO_ENGINE, as a CI job would load its own."""

import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import scripted_engine

from keylock.host.cli import main
from keylock.host.emulator.factory import ENGINE_ENV
from keylock.host.scenario import LIBRARY_DIR
from keylock.host.scenario.batch import EXIT_TIMED_OUT
from keylock.host.scenario.parse import load

# A scripted engine (tests/host/scenario/scripted_engine.py) whose `advance` misbehaves on
# purpose, chosen by the scenario's name:
#   hang*   starts a grandchild process (`sleep`), notes both pids, then never returns
#   first   waits until the scenario "second" has closed its engine (so "first" can finish
#           only if "second" runs at the same time, and finishes after it)
#   fails   answers its open step (3) "denied" where the file expects "granted"
#   raises  raises ValueError (an engine's bug); dies: its process ends at once (exit code 3)
# Every engine leaves NAME.closed in the folder when closed.
HANG_ENGINE = """\
import os
import subprocess
import sys
import time
from pathlib import Path

from scripted_engine import ScriptedEngine
from keylock.host.scenario.engine import StepResult

HERE = Path(__file__).resolve().parent


class MisbehavingEngine(ScriptedEngine):
    def setup(self, scenario):
        super().setup(scenario)
        self.name = scenario.name

    def advance(self, **args):
        if self.name.startswith("hang"):
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            (HERE / f"{self.name}.pids").write_text(f"{os.getpid()} {sleeper.pid}")
            while True:
                time.sleep(0.2)
        if self.name == "raises":
            raise ValueError("boom")
        if self.name == "dies":
            os._exit(3)
        if self.name == "first":
            while not (HERE / "second.closed").exists():
                time.sleep(0.05)
        return self.answer("advance", args)

    def close(self):
        super().close()
        (HERE / f"{self.name}.closed").write_text("closed")


def make(runtime, scenario):
    table = {3: StepResult("denied", reason="blocked")} if scenario.name == "fails" else {}
    return MisbehavingEngine(runtime, table)
"""

SCENARIO = """\
name: {name}
site:
  keys: [{{id: K1}}]
  locks: [{{id: L1}}]
steps:
  - grant: {{key: K1, locks: [L1]}}
  - advance: 1h
  - open: {{key: K1, lock: L1}}
    expect: granted
"""


@pytest.fixture
def engine_dir(tmp_path, monkeypatch):
    """tmp_path with hang_engine.py, importable here and (through sys.path) in the children."""
    (tmp_path / "hang_engine.py").write_text(HANG_ENGINE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hang_engine", raising=False)
    monkeypatch.setenv(ENGINE_ENV, "hang_engine:make")
    return tmp_path


def scenario_file(folder: Path, name: str) -> str:
    path = folder / f"{name}.scenario.yaml"
    path.write_text(SCENARIO.format(name=name))
    return str(path)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until_gone(pid: int, tries: int = 200) -> bool:
    """A SIGKILLed grandchild vanishes asynchronously: poll, bounded (not a timing assert)."""
    for _ in range(tries):
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_hung_scenario_is_stopped_with_everything_it_started_and_exits_42(engine_dir, capsys):
    hang, after = scenario_file(engine_dir, "hang"), scenario_file(engine_dir, "after")
    report = engine_dir / "report.xml"
    code = main(["scenario", "run", "--timeout", "1", "--junit-xml", str(report), hang, after])
    assert code == EXIT_TIMED_OUT == 42
    captured = capsys.readouterr()

    worker_pid, sleeper_pid = map(int, (engine_dir / "hang.pids").read_text().split())
    assert not alive(worker_pid), "the process running the hung scenario still runs"
    assert wait_until_gone(sleeper_pid), "a process the hung engine started survived the stop"
    assert (engine_dir / "hang.closed").exists(), "the hung scenario's engine was not closed"

    out = captured.out.splitlines()
    assert out[0] == f"== hang ({hang}, cpython)"
    assert out[2] == f"TIMED OUT in step 2 (advance): hang ({hang}, cpython), 1 of 3 steps run"
    assert f"PASSED: after ({after}, cpython), 3 of 3 steps" in out, "the files after a timeout did not run"
    assert captured.err == f"keylock: {hang}:7: step 2 (advance) did not finish within --timeout 1 s; the scenario was stopped\n"

    cases = ET.parse(report).getroot().findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["hang", "after"]
    error = cases[0].find("error")
    assert error is not None and error.get("type") == "timeout" and "step 2 (advance)" in (error.get("message") or "")
    assert cases[1].find("error") is None and cases[1].find("failure") is None
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("errors"), suite.get("failures"), suite.get("tests")) == ("1", "0", "2")


def test_a_timed_out_scenario_in_json_is_a_summary_saying_so(engine_dir, capsys):
    hang = scenario_file(engine_dir, "hang")
    assert main(["scenario", "run", "--json", "--timeout", "0.5", hang]) == 42
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["type"] for o in objects] == ["step", "summary"]
    summary = objects[1]
    assert summary["timed_out"] is True and summary["passed"] is False and summary["timeout_s"] == 0.5
    assert (summary["steps"], summary["steps_run"], summary["failed_step"]) == (3, 1, 2)


@pytest.mark.parametrize("json_lines", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["text", "json"])
def test_jobs_run_files_at_once_and_print_each_file_whole_in_the_order_given(engine_dir, json_lines, capsys):
    # "first" can only finish after "second" has finished; run one at a time, it would hang
    # until the timeout (exit 42). Its output must still come first, in one piece.
    first, second = scenario_file(engine_dir, "first"), scenario_file(engine_dir, "second")
    argv = ["scenario", "run", "--jobs", "2", "--timeout", "120", first, second]
    assert main(argv + (["--json"] if json_lines else [])) == 0
    assert (engine_dir / "second.closed").stat().st_mtime_ns <= (engine_dir / "first.closed").stat().st_mtime_ns
    out = capsys.readouterr().out.splitlines()
    if json_lines:
        objects = [json.loads(line) for line in out]
        owners = [o.get("scenario") for o in objects if o["type"] in ("step", "summary")]
        assert owners == ["first"] * 4 + ["second"] * 4
        assert [o["type"] for o in objects] == (["step"] * 3 + ["summary"]) * 2 + ["total"]
        assert objects[-1] == {"type": "total", "scenarios": 2, "passed": 2, "failed": 0}
    else:
        assert out.index(f"== first ({first}, cpython)") == 0
        split = out.index(f"== second ({second}, cpython)")
        assert [line.split()[:2] for line in out[1:4]] == [["1", "grant"], ["2", "advance"], ["3", "open"]]
        assert out[4].startswith("PASSED: first") and out[split - 1] == ""
        assert [line.split()[:2] for line in out[split + 1 : split + 4]] == [["1", "grant"], ["2", "advance"], ["3", "open"]]
        step_lines = [i for i, line in enumerate(out) if line[:5].strip().isdigit()]
        assert step_lines == [1, 2, 3, split + 1, split + 2, split + 3], "steps of one file printed amid the other's"
        assert [line.split(":")[0] for line in out if line.startswith("PASSED")] == ["PASSED"] * 2
        assert out[split + 4].startswith("PASSED: second")


@pytest.mark.slow
def test_the_exit_code_is_the_worst_files(engine_dir, capsys):
    good, fails, hang = (scenario_file(engine_dir, n) for n in ("good", "fails", "hang"))
    assert main(["scenario", "run", "--jobs", "2", good, good]) == 0
    assert main(["scenario", "run", "--jobs", "2", good, fails, good]) == 1
    assert main(["scenario", "run", "--jobs", "3", "--timeout", "1", fails, hang, good]) == 42
    err = capsys.readouterr().err
    assert f"keylock: {fails}:8: step 3 (open) expected granted, saw {{denied: blocked}}\n" in err
    (engine_dir / "hang.pids").unlink()
    assert main(["scenario", "run", "--jobs", "2", "--timeout", "1", hang, str(engine_dir / "missing.scenario.yaml")]) == 2
    assert not (engine_dir / "hang.pids").exists(), "a file ran although another was invalid"


def test_an_invalid_file_among_parallel_ones_runs_nothing(engine_dir, capsys):
    good = scenario_file(engine_dir, "good")
    assert main(["scenario", "run", "--jobs", "2", good, str(engine_dir / "missing.scenario.yaml")]) == 2
    assert not (engine_dir / "good.closed").exists()
    assert capsys.readouterr().out == ""


FAILING = """\
name: a key never validated is refused
site:
  keys: [{id: K1}]
  locks: [{id: L1}]
steps:
  - grant: {key: K1, locks: [L1]}
  - open: {key: K1, lock: L1}
    expect: granted
"""


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["in-process", "workers"])
def test_a_failed_expectation_is_a_junit_failure_with_the_step_and_what_was_seen(tmp_path, jobs, monkeypatch, capsys):
    monkeypatch.delenv(ENGINE_ENV, raising=False)  # the real emulator
    failing = tmp_path / "never_validated.scenario.yaml"
    failing.write_text(FAILING)
    passing = tmp_path / "validity.scenario.yaml"
    passing.write_text(SCENARIO.format(name="validated").replace("  - advance: 1h\n", "  - validate: {key: K1}\n"))
    report = tmp_path / "report.xml"
    assert main(["scenario", "run", "--jobs", jobs, "--junit-xml", str(report), str(passing), str(failing)]) == 1
    capsys.readouterr()

    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    ok, bad = suite.findall("testcase")
    assert (ok.get("name"), ok.find("failure")) == ("validated", None)
    assert bad.get("name") == "a key never validated is refused"
    assert bad.get("classname", "").endswith("never_validated") and float(bad.get("time", "-1")) >= 0
    failure = bad.find("failure")
    assert failure is not None
    assert failure.get("message") == "step 2 (open, line 7): expected granted, saw {denied: not_validated}"
    assert "result is denied, expected granted" in (failure.text or "")
    out = (bad.findtext("system-out") or "").splitlines()
    assert out[0].split()[:3] == ["1", "grant", "key=K1"] and out[1].split()[:2] == ["2", "open"]
    assert out[1].endswith("FAILED") and any(line.startswith("FAILED at step 2") for line in out)


@pytest.mark.slow
def test_the_whole_library_in_two_jobs_gives_a_junit_report_of_every_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    files = sorted(LIBRARY_DIR.glob("*.scenario.yaml"))
    assert len(files) >= 10
    report = tmp_path / "library.xml"
    assert main(["scenario", "run", "--jobs", "2", "--junit-xml", str(report), *map(str, files)]) == 0
    capsys.readouterr()
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [load(f).name for f in files]
    assert [c.get("classname", "").rsplit(".", 1)[-1] for c in cases] == [f.name.removesuffix(".scenario.yaml") for f in files]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (str(len(files)), "0", "0")
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    assert all((c.findtext("system-out") or "").lstrip().startswith("1 ") for c in cases)


BAD_OPTIONS = [
    (["--timeout", "0"], "--timeout takes a number of seconds above 0, not '0'"),
    (["--timeout", "-1"], "--timeout takes a number of seconds above 0, not '-1'"),
    (["--timeout", "soon"], "--timeout takes a number of seconds above 0, not 'soon'"),
    (["--timeout", "nan"], "--timeout takes a number of seconds above 0, not 'nan'"),
    (["--jobs", "0"], "--jobs takes a whole number of processes, 1 or more, not '0'"),
    (["--jobs", "-2"], "--jobs takes a whole number of processes, 1 or more, not '-2'"),
    (["--jobs", "1.5"], "--jobs takes a whole number of processes, 1 or more, not '1.5'"),
    (["--junit-xml", "{tmp}/no/such/folder/report.xml"], "--junit-xml {tmp}/no/such/folder/report.xml: no folder"),
    (["--junit-xml", "{tmp}"], "--junit-xml {tmp}: is a folder"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_options_are_one_line_exit_2_and_nothing_runs_or_is_written(tmp_path, options, message, monkeypatch, capsys):
    monkeypatch.setenv(ENGINE_ENV, "scripted_engine:make")
    scripted_engine.CREATED.clear()
    good = tmp_path / "good.scenario.yaml"
    good.write_text(SCENARIO.format(name="good"))
    before = sorted(p.name for p in tmp_path.iterdir())
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    assert main(["scenario", "run", *options, str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("keylock: " + message.replace("{tmp}", str(tmp_path)))
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert scripted_engine.CREATED == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_without_ci_options_the_scenarios_run_in_this_process(tmp_path, monkeypatch, capsys):
    # The default keeps what `scenario run` always did (the scripted engine's in-memory tables
    # work only here); --jobs 1 is that default.
    monkeypatch.setenv(ENGINE_ENV, "scripted_engine:make")
    scripted_engine.CREATED.clear()
    good = tmp_path / "good.scenario.yaml"
    good.write_text(SCENARIO.format(name="good"))
    assert main(["scenario", "run", "--jobs", "1", str(good)]) == 0
    assert len(scripted_engine.CREATED) == 1 and scripted_engine.CREATED[0].closed


def test_help_documents_the_options_and_every_exit_code(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "run", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--timeout SECONDS", "--jobs N", "--junit-xml FILE"):
        assert option in text
    for code, meaning in (
        ("0", "every expectation held"),
        ("1", "one failed"),
        ("2", "an invalid file or option"),
        ("42", "a scenario ran past --timeout"),
    ):
        assert f"{code} {meaning}" in text, code


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["in-process", "workers"])
def test_an_engine_that_raises_is_one_line_exit_1_and_the_other_files_still_run(engine_dir, jobs, capsys):
    raises, good = scenario_file(engine_dir, "raises"), scenario_file(engine_dir, "good")
    report = engine_dir / "report.xml"
    assert main(["scenario", "run", "--jobs", jobs, "--junit-xml", str(report), raises, good]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"keylock: {raises}:7: step 2 (advance): the engine raised ValueError: boom\n"
    assert f"PASSED: good ({good}, cpython), 3 of 3 steps" in captured.out.splitlines()
    assert (engine_dir / "raises.closed").exists()
    error = ET.parse(report).getroot().find("testsuite/testcase/error")
    assert error is not None and error.get("message") == "step 2 (advance): the engine raised ValueError: boom".join([f"{raises}:7: ", ""])
    assert "Traceback" in (error.text or "") and 'raise ValueError("boom")' in (error.text or "")


def test_a_worker_that_dies_mid_scenario_is_an_error_and_is_replaced(engine_dir, capsys):
    dies, good = scenario_file(engine_dir, "dies"), scenario_file(engine_dir, "good")
    assert main(["scenario", "run", "--jobs", "1", "--timeout", "60", dies, good]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"keylock: {dies}:7: step 2 (advance): the scenario's process ended (exit code 3) without a result\n"
    assert f"PASSED: good ({good}, cpython), 3 of 3 steps" in captured.out.splitlines()
