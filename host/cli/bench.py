"""Run a benchmark and print its figures (what benchmarks/RESULTS.md records).

Benchmarks register themselves under the `keylock.benchmarks` entry-point group (see
pyproject.toml), so this command lists and runs whatever is installed without importing
the benchmarks package. Everything after the name goes to the benchmark:

  keylock bench                      list them
  keylock bench handshake --json     run one; `keylock bench NAME --help` for its options
"""

import importlib
import importlib.metadata

from ..errors import UsageError

ENTRY_POINT_GROUP = "keylock.benchmarks"


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="which benchmark (none: list them)")
    parser.add_argument("options", nargs="...", help="the benchmark's own options, e.g. --json")


def registered() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def run(args) -> int:
    benchmarks = registered()
    if args.name is None:
        for name, ep in sorted(benchmarks.items()):
            doc = (importlib.import_module(ep.module).__doc__ or "").strip().splitlines()
            print(f"  {name:<12} {doc[0] if doc else ep.value}")
        return 0
    if args.name not in benchmarks:
        raise UsageError(f"no benchmark {args.name!r}; there are: {', '.join(sorted(benchmarks)) or 'none installed'}")
    return int(benchmarks[args.name].load()(args.options) or 0)
