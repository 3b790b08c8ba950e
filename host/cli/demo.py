"""The main job (`make demo`): the scenario library run on emulated keys and locks (real
firmware, the access server, virtual time and physics), step by step, then a summary of
the openings granted and denied by reason, the energy per opening and the batteries.

The protocol tour that was the main job before the emulator is `keylock tour`.
"""

from collections import Counter
from pathlib import Path

from ..emulator.factory import make_engine
from ..errors import KeylockError
from ..scenario import LIBRARY_DIR, report
from ..scenario.model import RUNTIMES
from ..scenario.parse import load
from ..scenario.runner import run as run_scenario
from ..scenario.runner import summarize


def add_arguments(parser):
    parser.add_argument("--runtime", choices=RUNTIMES, default="cpython", help="where the firmware runs (default cpython)")
    parser.add_argument(
        "--library", type=Path, default=LIBRARY_DIR, help="folder of *.scenario.yaml (default: the library installed with keylock)"
    )
    parser.add_argument("--quiet", action="store_true", help="only each scenario's result and the summary")


def run(args) -> int:
    paths = sorted(args.library.glob("*.scenario.yaml"))
    if not paths:
        raise KeylockError(f"no *.scenario.yaml in {args.library}")
    granted, denied, energy, batteries, failed = 0, Counter(), [], {}, []
    for path in paths:
        scenario = load(path)
        print(f"== {scenario.name}  ({path.name}, {args.runtime})")
        on_step = None if args.quiet else (lambda r: print("\n".join(report.step_lines(r)), flush=True))
        result = run_scenario(scenario, make_engine(args.runtime, scenario), args.runtime, on_step)
        summary = summarize(result)
        granted += summary["openings"]["granted"]
        denied.update(summary["openings"]["denied"])
        for step in result.steps:
            if "energy_J" in step.outcome.details:
                energy.append(step.outcome.details["energy_J"])
        batteries[path.name.removesuffix(".scenario.yaml")] = summary.get("engine", {}).get("battery_soc", {})
        print(f"   -> {'passed' if result.passed else 'FAILED'}: {len(result.steps)} steps\n")
        if not result.passed:
            failed.append(path.name)
    print("Summary")
    print(f"  scenarios   {len(paths) - len(failed)} of {len(paths)} passed" + (f" (failed: {', '.join(failed)})" if failed else ""))
    print(f"  openings    {granted} granted, {sum(denied.values())} denied")
    for reason, count in sorted(denied.items(), key=lambda kv: -kv[1]):
        print(f"    denied {reason:<18} {count}")
    if energy:
        print(
            f"  energy per opening  mean {1000 * sum(energy) / len(energy):.1f} mJ, min {1000 * min(energy):.1f}, max {1000 * max(energy):.1f}"
        )
    print("  batteries at the end (state of charge)")
    for name, socs in batteries.items():
        print(f"    {name:<34} " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in socs.items()))
    return 1 if failed else 0
