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


def _summary(doc: str | None) -> str:
    """The first sentence of a module's docstring, on one line."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")


def run(args) -> int:
    benchmarks = registered()
    if args.name is None:
        for name, ep in sorted(benchmarks.items()):
            print(f"  {name:<13} {_summary(importlib.import_module(ep.module).__doc__) or ep.value}")
        return 0
    if args.name not in benchmarks:
        raise UsageError(f"no benchmark {args.name!r}; there are: {', '.join(sorted(benchmarks)) or 'none installed'}")
    return int(benchmarks[args.name].load()(args.options) or 0)
