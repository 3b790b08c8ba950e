"""keylock's import layering, as data, and a checker for it.

The rules are the table RULES below: each layer may import its own modules and the layers on
its line, nothing else of keylock. The checker reads the sources with `ast` (nothing is
imported or run), so it sees every import statement anywhere in a file (inside functions,
`try`, `if TYPE_CHECKING`), and no text inside strings (the firmware's MicroPython scripts).

    analyse(root) -> Report      violations (file:line, what, which rule) and cycles, apart
    check(root) -> list[str]     both in one list: empty when the tree keeps the rules
    python tests/layering.py [ROOT]

What counts as an import (the module graph):

- `import a.b.c` imports a.b.c (a package: its `__init__`), not its parents a and a.b,
  though Python runs their `__init__` first;
- `from a.b import name` imports a.b.name when that is a module or package of the tree,
  otherwise a.b (the name is an attribute of a.b's `__init__`);
- relative imports are resolved as Python does: from a package's `__init__`, level 1 is the
  package itself; from a module, level 1 is the package holding it;
- only imports of `keylock.*` count (micropython, keylock_fw, numpy... are not ours).
  Imports by `importlib.import_module(...)` or entry points are not statements and are not
  seen: that is how the CLI finds its commands and the benchmarks.
"""

import ast
import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Top-level folder -> its package in the `keylock` namespace (pyproject's package-dir).
FOLDERS = {
    "protocol": "keylock.protocol",
    "firmware": "keylock.firmware",
    "host": "keylock.host",
    "hw_models": "keylock.hw_models",
    "benchmarks": "keylock.benchmarks",
}

# The modules of the layer "host.base"; every other `keylock.host.X` is the layer "host.X".
HOST_BASE = ("keylock.host", "keylock.host.errors", "keylock.host.render")

# What the host, and the benchmarks, build on.
CORE = ("protocol", "firmware", "hw_models")

# layer: the other layers it may import (its own modules it always may)      why
# fmt: off
RULES: dict[str, tuple[str, ...]] = {
    "firmware":      (),                                                        # copied to boards as keylock_fw, where nothing else of keylock exists
    "protocol":      (),                                                        # the one definition of the wire format, under everything (the firmware's codec is generated from it, not imported)
    "hw_models":     (),                                                        # numpy physics: usable, testable and plotted on its own
    "host.base":     CORE,                                                      # keylock.host, host.errors, host.render: every host layer uses them, so they use no other
    "host.server":   ("host.base", *CORE),                                      # the access server (SQLite): knows no device, link or emulator
    "host.link":     ("host.server", "host.base", *CORE),                       # transport and Device client; grant/validate take their credentials from the server
    "host.scenario": ("host.server", "host.base", *CORE),                       # scenario files, runner, report and the Engine contract: no devices, no runtime
    "host.runtime":  ("host.link", "host.base", *CORE),                         # the MicroPython runner, boards, flashing and checking a board over a link
    "host.emulator": ("host.runtime", "host.scenario", "host.server", "host.link", "host.base", *CORE),  # implements the scenario Engine with the real firmware
    "host.testing":  ("host.emulator", "host.link", "host.runtime", "host.scenario", "host.server", "host.base", *CORE),  # the pytest plugin and fixtures, over everything but the CLI
    "host.simulate": ("host.emulator", "host.runtime", "host.scenario", "host.server", "host.link", "host.base", *CORE),  # the site simulation: runs sites on the emulator, writes the operator's reports
    "host.cli":      ("host.simulate", "host.testing", "host.emulator", "host.link", "host.runtime", "host.scenario", "host.server", "host.base", *CORE),  # the top; no host layer imports benchmarks: they register as entry points
    "benchmarks":    (*CORE, "host.base", "host.server", "host.link", "host.scenario", "host.runtime", "host.emulator", "host.simulate"),  # not host.cli (`keylock bench` finds them) nor host.testing (pytest's)
}
# fmt: on

MAX_CYCLES_PER_GROUP = 50  # a tangle of modules can hold very many cycles; past this, one summary line


def layer_of(module: str) -> str | None:
    """The layer of a module of the keylock namespace, or None when it is in no layer."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "keylock":
        return None
    if parts[1] != "host":
        return parts[1] if parts[1] in RULES and not parts[1].startswith("host") else None
    if ".".join(parts[:3]) in HOST_BASE:
        return "host.base"
    layer = f"host.{parts[2]}"
    return layer if layer in RULES and layer != "host.base" else None


def unplaced_part(module: str) -> str:
    """The part of the namespace that has to be placed in RULES for `module`: keylock.host.X or keylock.X."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[1:2] == ["host"] else parts[:2])


def resolve_relative(importer: str, is_package: bool, level: int, name: str | None = None) -> str:
    """The absolute module named by `from <level dots><name> import ...` in module `importer`.

    From a package's `__init__` (is_package), level 1 is the package itself; from a module,
    the package holding it. Raises ValueError past the top, as Python raises ImportError."""
    if level == 0:
        if not name:
            raise ValueError("an absolute import needs a name")
        return name
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > len(package):
        raise ValueError(f"relative import beyond the top-level package (level {level} in {importer})")
    base = package[: len(package) - level + 1]
    return ".".join([*base, name] if name else base)


@dataclass(frozen=True)
class Import:
    path: str  # of the importing file, relative to the root, with /
    line: int
    importer: str
    target: str  # the module imported, absolute (only keylock.*)


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # module name -> path
    imports: list[Import] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.violations + self.cycles


def discover(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every .py file under the mapped folders: module name -> (path, is_package)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for folder, package in FOLDERS.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules[".".join([package, *parts])] = (path, is_package)
    return modules


def statements(tree: ast.AST):
    """Every statement, at any depth (functions, classes, if, try, with, match...).

    An import is always a statement and no expression holds a statement, so this finds every
    import and skips the expressions, most of a tree (ast.walk, which visits them, is much slower)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.stmt):
                        yield item
                        todo.append(item)
                    elif isinstance(item, (ast.excepthandler, ast.match_case)):
                        todo.append(item)


# Import statements by source text: analysing a copy of the tree (the tests' negative
# controls) parses only the files that changed. Parsing is most of the check's time.
_STATEMENTS: dict[bytes, list[tuple[int, int | None, str, tuple[str, ...]]] | SyntaxError] = {}


def import_statements(source: bytes) -> list[tuple[int, int | None, str, tuple[str, ...]]]:
    """(line, level, module, names) of every import statement in the source, in order.

    `import a.b, c` gives (line, None, "", ("a.b", "c")); `from ..a import b` gives
    (line, 2, "a", ("b",)). Raises SyntaxError for a file Python cannot parse."""
    if source not in _STATEMENTS:
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            _STATEMENTS[source] = e
        else:
            found = []
            for node in statements(tree):
                if isinstance(node, ast.Import):
                    found.append((node.lineno, None, "", tuple(a.name for a in node.names)))
                elif isinstance(node, ast.ImportFrom):
                    found.append((node.lineno, node.level, node.module or "", tuple(a.name for a in node.names)))
            _STATEMENTS[source] = sorted(found, key=lambda s: s[0])
    result = _STATEMENTS[source]
    if isinstance(result, SyntaxError):
        raise result
    return result


def imports_of(source: bytes, module: str, is_package: bool, known: set[str]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(line, target) of every keylock import in the source, and (line, error) for the unresolvable."""
    found: list[tuple[int, str]] = []
    errors: list[tuple[int, str]] = []
    for line, level, name, names in import_statements(source):
        if level is None:
            found += [(line, n) for n in names]
            continue
        try:
            package = resolve_relative(module, is_package, level, name or None)
        except ValueError as e:
            errors.append((line, str(e)))
            continue
        for n in names:
            sub = f"{package}.{n}"
            found.append((line, sub if n != "*" and sub in known else package))
    found = sorted({(line, target) for line, target in found if target.startswith("keylock.")})
    return found, errors


def allowed_text(layer: str) -> str:
    allowed = RULES[layer]
    if layer.startswith("host."):  # inside host, its layers by their short names, as in the rules
        allowed = tuple(a.removeprefix("host.") for a in allowed)
    return ", ".join(allowed) if allowed else "itself"


def analyse(root: Path = REPO_ROOT) -> Report:
    root = Path(root)
    report = Report()
    found = discover(root)
    known = set(found)
    unplaced: dict[str, str] = {}  # keylock.host.X -> first file in it
    for module, (path, is_package) in found.items():
        rel = path.relative_to(root).as_posix()
        report.modules[module] = rel
        layer = layer_of(module)
        if layer is None:
            unplaced.setdefault(unplaced_part(module), rel)
        try:
            targets, errors = imports_of(path.read_bytes(), module, is_package, known)
        except SyntaxError as e:
            report.violations.append(f"{rel}:{e.lineno}: cannot be parsed: {e.msg}")
            continue
        report.violations += [f"{rel}:{line}: {error}" for line, error in errors]
        for line, target in targets:
            report.imports.append(Import(rel, line, module, target))
            if layer is None:
                continue  # its file is reported as unplaced already
            target_layer = layer_of(target)
            if target_layer == layer:
                continue
            if target_layer is None:
                report.violations.append(f"{rel}:{line} imports {target}: {unplaced_part(target)} is in no layer")
            elif target_layer not in RULES[layer]:
                report.violations.append(f"{rel}:{line} imports {target}: {layer} may import only {allowed_text(layer)}")
    for part, rel in sorted(unplaced.items()):
        name = part.removeprefix("keylock.")
        report.violations.append(f"{rel}: {part} is in no layer: place {name} in RULES (tests/layering.py), with the layers it may import")
    report.violations.sort(key=_location_key)
    report.cycles = find_cycles(report.imports, known)
    return report


def check(root: Path = REPO_ROOT) -> list[str]:
    """Every violation of the layering and every import cycle, as readable lines; [] when none."""
    return analyse(root).problems


def _location_key(message: str):
    path, _, rest = message.partition(":")
    line = rest.split(" ", 1)[0].rstrip(":")
    return (path, int(line) if line.isdigit() else 0, message)


def find_cycles(imports: list[Import], known: set[str]) -> list[str]:
    """Each elementary import cycle once, as `cycle: a -> b -> a (at file:line, ...)`.

    Within each group of mutually reachable modules (a strongly connected component), every
    import edge lies on some cycle; for each edge the shortest cycle through it is reported,
    each distinct cycle once, starting at its smallest module name."""
    graph: dict[str, dict[str, Import]] = {m: {} for m in known}
    for imp in imports:
        if imp.target in known and imp.target != imp.importer:
            graph[imp.importer].setdefault(imp.target, imp)  # the first line that imports it
    cycles: list[str] = []
    for group in sorted(strongly_connected(graph), key=min):
        if len(group) < 2:
            continue
        seen: set[tuple[str, ...]] = set()
        found: list[tuple[str, ...]] = []
        for u in sorted(group):
            for v in sorted(graph[u]):
                if v not in group:
                    continue
                path = shortest_path(graph, v, u, group)  # v ... u, then u -> v closes it
                i = path.index(min(path))
                cycle = tuple(path[i:] + path[:i])
                if cycle not in seen:
                    seen.add(cycle)
                    found.append(cycle)
        found.sort()
        for cycle in found[:MAX_CYCLES_PER_GROUP]:
            ring = [*cycle, cycle[0]]
            at = ", ".join(f"{graph[a][b].path}:{graph[a][b].line}" for a, b in itertools.pairwise(ring))
            cycles.append(f"cycle: {' -> '.join(ring)} (at {at})")
        if len(found) > MAX_CYCLES_PER_GROUP:
            cycles.append(f"cycle: and {len(found) - MAX_CYCLES_PER_GROUP} more among {', '.join(sorted(group))}")
    return cycles


def shortest_path(graph: dict[str, dict[str, Import]], start: str, goal: str, within: set[str]) -> list[str]:
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier and goal not in previous:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt in within and nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    path: list[str] = []
    node: str | None = goal
    while node is not None:
        path.append(node)
        node = previous[node]
    return path[::-1]


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on deep import chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else REPO_ROOT
    start = time.perf_counter()
    report = analyse(root)
    elapsed = time.perf_counter() - start
    for problem in report.problems:
        print(problem)
    print(
        f"{len(report.modules)} modules, {len(report.imports)} keylock imports, {len(report.violations)} violation(s), {len(report.cycles)} cycle(s) in {elapsed * 1000:.0f} ms"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
