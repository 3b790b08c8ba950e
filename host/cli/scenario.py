"""Run scenario files (shared/SCENARIOS.md) on emulated devices.

  run FILE...   run each scenario: one line per step (index, action, result) and a summary

Every file is checked first; a file that is not a valid scenario stops everything before
any step runs (exit 2, with its line and the reason). Exit 0 when every expectation held,
1 when one failed (the step, what was expected and what was seen are printed).

--runtime overrides the files' `runtime:`. --json prints one JSON object per line: one per
step ("type": "step"), one summary per scenario ("type": "summary") and, for several files,
a last one with the totals ("type": "total").

The engine comes from keylock.host.emulator, or from the factory named by the environment
variable KEYLOCK_SCENARIO_ENGINE=module:function (see keylock.host.scenario.engine).
"""

import sys

from ..emulator.factory import make_engine
from ..scenario import report
from ..scenario.model import RUNTIMES, ScenarioError
from ..scenario.parse import load
from ..scenario.runner import run as run_scenario


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("run", help="run scenario files and check every expectation")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario files (*.scenario.yaml)")
    p.add_argument("--runtime", choices=RUNTIMES, default=None, help="run the firmware on this runtime (default: the file's, else cpython)")
    p.add_argument("--json", action="store_true", help="print one JSON object per step and per summary")


def run(args) -> int:
    scenarios, errors = [], []
    for path in args.files:
        try:
            scenarios.append(load(path))
        except ScenarioError as exc:
            errors.append(exc)
    if errors:
        for exc in errors:
            print(f"keylock: {exc}", file=sys.stderr)
        return 2

    failed = 0
    for number, scenario in enumerate(scenarios):
        runtime = args.runtime or scenario.runtime
        if not args.json:
            if number:
                print()
            print(f"== {scenario.name} ({scenario.path}, {runtime})")

        def on_step(step_report, name=scenario.name):
            if args.json:
                print(report.dumps(report.step_json(step_report, name)), flush=True)
            else:
                print("\n".join(report.step_lines(step_report)), flush=True)

        result = run_scenario(scenario, make_engine(runtime, scenario), runtime, on_step)
        if args.json:
            print(report.dumps(report.summary_json(result)))
        else:
            print("\n".join(report.summary_lines(result)))
        if not result.passed:
            failed += 1
        bad = result.failed
        if bad is not None:
            print(
                f"keylock: {scenario.path}:{bad.step.line}: step {bad.step.index} ({bad.step.action}) expected "
                f"{report.expect_text(bad.expected)}, saw {report.seen_text(bad)}",
                file=sys.stderr,
            )
    if args.json and len(scenarios) > 1:
        print(report.dumps({"type": "total", "scenarios": len(scenarios), "passed": len(scenarios) - failed, "failed": failed}))
    return 1 if failed else 0
