"""Run scenario files (docs/scenarios.md) on emulated devices, or start a new one.

  run FILE...   run each scenario: one line per step (index, action, result) and a summary
  new FILE      write a commented starter scenario to FILE (--force overwrites)

Every file is checked first; a file that is not a valid scenario stops everything before
any step runs. Exit codes of `run` (for several files, the worst of them, in this order):

  2   a file is not a valid scenario, or bad options (its line and the reason; nothing ran)
  42  a scenario ran longer than --timeout and was stopped (Wokwi CLI's timeout exit code)
  1   an expectation failed (the step, what was expected and what was seen are printed), or
      the engine broke
  0   every expectation held

--runtime overrides the files' `runtime:`. --json prints one JSON object per line: one per
step ("type": "step"), one summary per scenario ("type": "summary"; a stopped one has
"timed_out": true) and, for several files, a last one with the totals ("type": "total").

For CI: --timeout SECONDS stops a scenario still running after that much wall-clock time
(the scenarios then run in a worker process that can be stopped); --jobs N runs N files at
once in N worker processes, the output still printed whole per file in the order given;
--junit-xml FILE writes a JUnit XML report (one testcase per scenario, in the shape of
pytest's --junit-xml). Without --timeout and with one job, the scenarios run in this process.

The engine comes from keylock.host.emulator, or from the factory named by the environment
variable KEYLOCK_SCENARIO_ENGINE=module:function (see keylock.host.scenario.engine).
"""

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ..emulator.factory import ENGINE_ENV, load_factory, make_engine
from ..errors import UsageError
from ..scenario import junit, report
from ..scenario.batch import ERROR, EXIT_INVALID, EXIT_TIMED_OUT, TIMED_OUT, FileRun, Listener, run_batch, worst
from ..scenario.model import RUNTIMES, ScenarioError
from ..scenario.parse import load

RUN_EPILOG = f"""\
exit codes: 0 every expectation held; 1 one failed (or the engine broke); 2 an invalid file or
option (nothing ran); {EXIT_TIMED_OUT} a scenario ran past --timeout and was stopped. With several
files, the worst: 2, then {EXIT_TIMED_OUT}, then 1."""


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser(
        "run",
        help="run scenario files and check every expectation",
        description="Run scenario files and check every expectation.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario files (*.scenario.yaml)")
    p.add_argument("--runtime", choices=RUNTIMES, default=None, help="run the firmware on this runtime (default: the file's, else cpython)")
    p.add_argument("--json", action="store_true", help="print one JSON object per step and per summary")
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        help=f"stop a scenario still running after this much wall-clock time and exit {EXIT_TIMED_OUT} (default: no limit)",
    )
    p.add_argument("--jobs", metavar="N", default="1", help="run N files at once in N worker processes (default 1: one after another)")
    p.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report to FILE (its folder must exist)")

    n = sub.add_parser(
        "new",
        help="write a commented starter scenario file",
        description="Write a starter scenario to FILE: every section explained in comments, a few steps that pass.",
    )
    n.add_argument("file", metavar="FILE", help="the file to write, e.g. my_site.scenario.yaml")
    n.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def run(args) -> int:
    if args.action == "new":
        return new(Path(args.file), args.force)
    timeout_s, jobs, junit_path = _ci_options(args)

    scenarios, errors = [], []
    for path in args.files:
        try:
            scenarios.append(load(path))
        except ScenarioError as exc:
            errors.append(exc)
    if errors:
        for exc in errors:
            print(f"keylock: {exc}", file=sys.stderr)
        return EXIT_INVALID
    spec = os.environ.get(ENGINE_ENV)
    if spec:
        load_factory(spec)  # a bad spec is a usage error before anything runs

    listener = _TextListener() if not args.json else _JsonListener()
    started, clock = datetime.now(UTC), time.monotonic()
    runs = [(scenario, args.runtime or scenario.runtime) for scenario in scenarios]
    file_runs = run_batch(runs, make_engine, listener, jobs=jobs, timeout_s=timeout_s)
    if args.json and len(file_runs) > 1:
        failed = sum(r.exit_code != 0 for r in file_runs)
        print(report.dumps({"type": "total", "scenarios": len(file_runs), "passed": len(file_runs) - failed, "failed": failed}))
    if junit_path is not None:
        try:
            junit.write(junit_path, file_runs, started, time.monotonic() - clock)
        except OSError as exc:
            print(f"keylock: cannot write the JUnit report {junit_path}: {exc.strerror or exc}", file=sys.stderr)
            return worst([1, *(r.exit_code for r in file_runs)])
    return worst(r.exit_code for r in file_runs)


def _ci_options(args) -> tuple[float | None, int, Path | None]:
    """--timeout, --jobs and --junit-xml checked before anything runs (UsageError: exit 2)."""
    timeout_s = None
    if args.timeout is not None:
        try:
            timeout_s = float(args.timeout)
        except ValueError:
            timeout_s = math.nan
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise UsageError(f"--timeout takes a number of seconds above 0, not {args.timeout!r}")
    try:
        jobs = int(args.jobs)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise UsageError(f"--jobs takes a whole number of processes, 1 or more, not {args.jobs!r}")
    junit_path = None
    if args.junit_xml is not None:
        junit_path = Path(args.junit_xml)
        if junit_path.is_dir():
            raise UsageError(f"--junit-xml {args.junit_xml}: is a folder; give a file name")
        if not junit_path.parent.is_dir():
            raise UsageError(f"--junit-xml {args.junit_xml}: no folder {junit_path.parent}; create it first")
    return timeout_s, jobs, junit_path


def _failure_text(file_run: FileRun) -> str | None:
    """The one line for stderr about a file that did not pass, or None."""
    f = file_run.failure
    if f is not None:
        return f"{file_run.scenario.path}:{f['line']}: step {f['index']} ({f['action']}) expected {f['expected']}, saw {f['seen']}"
    if file_run.status in (TIMED_OUT, ERROR):
        return file_run.problem()
    return None


class _TextListener(Listener):
    def __init__(self):
        super().__init__(self.start, self.step, self.end)

    def start(self, file_run: FileRun) -> None:
        if file_run.index:
            print()
        print(f"== {file_run.scenario.name} ({file_run.scenario.path}, {file_run.runtime})", flush=True)

    def step(self, file_run: FileRun, step: dict) -> None:
        print("\n".join(step["lines"]), flush=True)

    def end(self, file_run: FileRun) -> None:
        if file_run.summary_lines:
            print("\n".join(file_run.summary_lines), flush=True)
        else:
            s = file_run.scenario
            verdict = "TIMED OUT" if file_run.status == TIMED_OUT else "ERROR"
            step = file_run.current_step
            where = f" in step {step.index} ({step.action})" if step else ""
            print(f"{verdict}{where}: {s.name} ({s.path}, {file_run.runtime}), {len(file_run.steps)} of {len(s.steps)} steps run")
            print(f"  {file_run.message}", flush=True)
        text = _failure_text(file_run)
        if text:
            print(f"keylock: {text}", file=sys.stderr, flush=True)


class _JsonListener(Listener):
    def __init__(self):
        super().__init__(lambda file_run: None, self.step, self.end)

    def step(self, file_run: FileRun, step: dict) -> None:
        print(report.dumps(step["json"]), flush=True)

    def end(self, file_run: FileRun) -> None:
        print(report.dumps(file_run.summary_json or {}), flush=True)
        text = _failure_text(file_run)
        if text:
            print(f"keylock: {text}", file=sys.stderr, flush=True)


# --- keylock scenario new ---

STARTER = """\
# A keylock scenario: a site (keys, locks, phones) and steps, each with what it must produce.
# The format: docs/scenarios.md in keylock's source. Run it:
#     keylock scenario run {file}
# or let pytest collect it (the keylock plugin collects every *.scenario.yaml).

# name: shown in reports and as the test's name (default: the file name up to its first ".").
name: {name}

# runtime: where the firmware runs, cpython (in-process, the default) or micropython
# (MicroPython's WebAssembly port under Node.js). `--runtime` overrides it.
runtime: cpython

# seed: makes random choices (nonces, noise) reproducible in engines that use them.
seed: 1

# start: the virtual time the scenario starts at, ISO 8601 (default 2026-01-05T08:00:00Z,
# a Monday). Virtual time moves only with the steps (advance, open, remove_battery).
start: 2026-01-05T08:00:00Z

# site: the keys, locks and phones. Ids are unique across all three.
site:
  # timezone: the site's IANA time zone; schedules are in its local time (default UTC).
  timezone: Europe/Stockholm
  # keys: id, and optionally holder, id06 (the holder's card), id06_expires, battery
  # (CR2032, CR2450, CR2), soc (state of charge 0..1), temperature_C, state (approved,
  # issued, unapproved) and site (a key made for another site).
  keys:
    - {{id: K1, holder: "Anna Berg", battery: CR2032, soc: 1.0}}
    - {{id: K2, holder: "Per Holm"}}
  # locks: id, and optionally group (a key bundle that grant and revoke may name),
  # kind (cylinder or padlock) and temperature_C.
  locks:
    - {{id: L1, group: depot, kind: padlock}}
  # phones: phones running the validation app (for validate, pair and unpair).
  phones: [P1]

# steps: run in order. A step is one action with its arguments and, optionally, `expect:`.
# A step without `expect` must succeed: granted for open and insert, ok for the rest. The
# first step whose outcome does not match stops the scenario (exit 1).
steps:
  # Rights are given on the access server; a key gets them at its next validation.
  - grant: {{key: K1, groups: [depot], schedule: {{days: [mon, tue, wed, thu, fri], from: "07:00", to: "18:00"}}}}
  - validate: {{key: K1, phone: P1}}
  - status: {{key: K1}}
    expect: {{validated: true, clock_set: true}}
  # open: insert the key, run the whole transaction, pull it out after `hold` (default 2s).
  - open: {{key: K1, lock: L1}}
    expect: granted
  # K2 was never given a right or validated: its own firmware refuses.
  - open: {{key: K2, lock: L1}}
    expect: {{denied: not_validated}}
  # Durations: 90s, 15m, 2h, 10d, or combined largest first (1d2h).
  - advance: 12h
  # 21:00 on Monday in Stockholm: outside K1's schedule.
  - open: {{key: K1, lock: L1}}
    expect: {{denied: outside_schedule}}
  # The lock's audit trail, oldest first.
  - audit: {{lock: L1}}
    expect:
      - {{key: K1, result: granted}}
      - {{key: K1, denied: outside_schedule}}
"""


def new(path: Path, force: bool) -> int:
    """Write the starter scenario; refuse (exit 2, nothing changed) to overwrite without --force."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name such as {path / 'my_site.scenario.yaml'}")
    if path.exists() and not force:
        raise UsageError(f"{path} exists; --force overwrites it")
    if not path.parent.is_dir():
        raise UsageError(f"no folder {path.parent} for {path}; create it first")
    name = path.name.split(".", 1)[0] or "starter"
    try:
        path.write_text(STARTER.format(file=path, name=json.dumps(name.replace("_", " "))), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"wrote {path}: run it with `keylock scenario run {path}`")
    if not path.name.endswith(".scenario.yaml"):
        print("note: the pytest plugin collects only files named *.scenario.yaml")
    return 0
