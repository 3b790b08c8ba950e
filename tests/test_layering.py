"""The import layering (tests/layering.py) holds on the real tree, and the check is real: each
kind of breach, injected into a copy of the tree, is reported, and nothing else is."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest


def _load_layering():
    # tests/ is no package and is not on sys.path (--import-mode=importlib); load the checker by path.
    spec = importlib.util.spec_from_file_location("keylock_tests_layering", Path(__file__).with_name("layering.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


layering = _load_layering()
ROOT = layering.REPO_ROOT


def test_real_tree_keeps_the_layering_and_has_no_cycle():
    layering._STATEMENTS.clear()  # a cold check: every file read and parsed
    report = layering.analyse(ROOT)
    problems = report.problems
    assert not problems, f"{len(problems)} layering problem(s), see tests/layering.py for the rules:\n" + "\n".join(problems)
    # The walk saw the tree: every folder, and imports inside function bodies too.
    assert {m.split(".")[1] for m in report.modules} == {p.split(".")[1] for p in layering.FOLDERS.values()}
    assert len(report.imports) > 100


# --- negative controls: a copy of the tree with one breach in it --------------------------


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    for folder in layering.FOLDERS:
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def append(root: Path, rel: str, text: str) -> int:
    """Append text to a file; returns the line number of text's first line (earlier lines keep theirs)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    path.write_text(old + text)
    return old.count("\n") + 1


def new_problems(root: Path, breach) -> tuple[list[str], list[str]]:
    """(violations, cycles) that appear in the copy once `breach(root)` is done."""
    before = layering.analyse(root)
    breach(root)
    after = layering.analyse(root)
    return (
        [v for v in after.violations if v not in before.violations],
        [c for c in after.cycles if c not in before.cycles],
    )


SERVER_ONLY = "host.server may import only base, protocol, firmware, hw_models"
LINK_ONLY = "host.link may import only server, base, protocol, firmware, hw_models"
BENCH_ONLY = "benchmarks may import only protocol, firmware, hw_models, host.base, host.server, host.link, host.scenario, host.runtime, host.emulator, host.simulate"

# (file, text appended, offset of the import line in text, what is imported, the rule broken)
BREACHES = {
    "server imports cli": ("host/server/db.py", "from ..cli import commands\n", 0, "keylock.host.cli.commands", SERVER_ONLY),
    "firmware imports protocol": (
        "firmware/frame.py",
        "from keylock.protocol import codes\n",
        0,
        "keylock.protocol.codes",
        "firmware may import only itself",
    ),
    "firmware imports protocol, relatively": (
        "firmware/frame.py",
        "from ..protocol import codes\n",
        0,
        "keylock.protocol.codes",
        "firmware may import only itself",
    ),
    "firmware imports host in a function": (
        "firmware/device.py",
        "\n\ndef _host():\n    import keylock.host.errors\n",
        3,
        "keylock.host.errors",
        "firmware may import only itself",
    ),
    "lazy import of cli in link": (
        "host/link/transport.py",
        "\n\ndef _sneaky():\n    from ..cli import commands\n\n    return commands\n",
        3,
        "keylock.host.cli.commands",
        LINK_ONLY,
    ),
    "base imports a layer": (
        "host/render.py",
        "from .link import transport\n",
        0,
        "keylock.host.link.transport",
        "host.base may import only protocol, firmware, hw_models",
    ),
    "host imports benchmarks": (
        "host/cli/bench.py",
        "from keylock.benchmarks import fleet\n",
        0,
        "keylock.benchmarks.fleet",
        "host.cli may import only simulate, testing, emulator, link, runtime, scenario, server, base, protocol, firmware, hw_models",
    ),
    "protocol imports hw_models": (
        "protocol/codes.py",
        "import keylock.hw_models\n",
        0,
        "keylock.hw_models",
        "protocol may import only itself",
    ),
    "hw_models imports firmware": (
        "hw_models/params.py",
        "from .. import firmware\n",
        0,
        "keylock.firmware",
        "hw_models may import only itself",
    ),
    "scenario imports emulator": (
        "host/scenario/runner.py",
        "from ..emulator import site\n",
        0,
        "keylock.host.emulator.site",
        "host.scenario may import only server, base, protocol, firmware, hw_models",
    ),
    "benchmarks import cli": ("benchmarks/fleet.py", "from keylock.host.cli import commands\n", 0, "keylock.host.cli.commands", BENCH_ONLY),
    "benchmarks import testing": ("benchmarks/fleet.py", "from ..host.testing import site\n", 0, "keylock.host.testing.site", BENCH_ONLY),
}


@pytest.mark.parametrize("breach", BREACHES.values(), ids=BREACHES.keys())
def test_a_breach_of_the_layering_is_reported_exactly(tree, breach):
    rel, text, offset, target, rule = breach
    line = []
    violations, cycles = new_problems(tree, lambda root: line.append(append(root, rel, text) + offset))
    assert violations == [f"{rel}:{line[0]} imports {target}: {rule}"]
    assert cycles == []


def test_an_import_cycle_is_reported_once(tree):
    # Two modules of the base layer import each other: no layer is broken, only the cycle.
    lines = {}

    def breach(root):
        lines["errors"] = append(root, "host/errors.py", "import keylock.host.render\n")
        lines["render"] = append(root, "host/render.py", "from .errors import KeylockError\n")

    violations, cycles = new_problems(tree, breach)
    assert violations == []
    assert cycles == [
        f"cycle: keylock.host.errors -> keylock.host.render -> keylock.host.errors (at host/errors.py:{lines['errors']}, host/render.py:{lines['render']})"
    ]


def test_a_cycle_through_a_lazy_import_is_reported(tree):
    # server.server imports .records at the top; records imports server.server back inside a function.
    line = []
    text = "\n\ndef _late():\n    from .server import AccessServer\n\n    return AccessServer\n"
    violations, cycles = new_problems(tree, lambda root: line.append(append(root, "host/server/records.py", text) + 3))
    back = next(
        n for n, s in enumerate((tree / "host/server/server.py").read_text().splitlines(), 1) if s.startswith("from .records import")
    )
    assert violations == []
    assert (
        f"cycle: keylock.host.server.records -> keylock.host.server.server -> keylock.host.server.records (at host/server/records.py:{line[0]}, host/server/server.py:{back})"
        in cycles
    )


def test_a_three_module_cycle_is_reported_once_whichever_module_starts_it(tree):
    # protocol: gen_codec imports frame and messages, frame imports messages; make messages import gen_codec.
    violations, cycles = new_problems(tree, lambda root: append(root, "protocol/messages.py", "from .gen_codec import generate\n"))
    assert violations == []
    assert [c.split(" (at ")[0] for c in cycles] == [
        "cycle: keylock.protocol.frame -> keylock.protocol.messages -> keylock.protocol.gen_codec -> keylock.protocol.frame",
        "cycle: keylock.protocol.gen_codec -> keylock.protocol.messages -> keylock.protocol.gen_codec",
    ]


@pytest.mark.parametrize(
    ("rel", "part"),
    [
        ("host/newlayer/__init__.py", "keylock.host.newlayer"),
        ("host/helpers.py", "keylock.host.helpers"),
        ("host/base.py", "keylock.host.base"),  # the base layer's name is no module of it
    ],
)
def test_an_unknown_host_layer_is_reported(tree, rel, part):
    violations, cycles = new_problems(tree, lambda root: append(root, rel, '"""A new layer."""\n'))
    name = part.removeprefix("keylock.")
    assert violations == [f"{rel}: {part} is in no layer: place {name} in RULES (tests/layering.py), with the layers it may import"]
    assert cycles == []


def test_an_import_of_an_unknown_layer_is_reported_too(tree):
    line = []

    def breach(root):
        append(root, "host/newlayer/__init__.py", "")
        append(root, "host/newlayer/tool.py", "from ..errors import KeylockError\n")  # reported with its layer, not again
        line.append(append(root, "host/cli/demo.py", "from ..newlayer import tool\n"))

    violations, _ = new_problems(tree, breach)
    assert violations == [
        f"host/cli/demo.py:{line[0]} imports keylock.host.newlayer.tool: keylock.host.newlayer is in no layer",
        "host/newlayer/__init__.py: keylock.host.newlayer is in no layer: place host.newlayer in RULES (tests/layering.py), with the layers it may import",
    ]


# --- the parts: resolving imports, what counts as one -------------------------------------


@pytest.mark.parametrize(
    ("importer", "is_package", "level", "name", "expected"),
    [
        # level 1 from a package's __init__ is the package itself...
        ("keylock.host.server", True, 1, "db", "keylock.host.server.db"),
        ("keylock.host.server", True, 1, None, "keylock.host.server"),
        ("keylock.host", True, 1, "errors", "keylock.host.errors"),
        # ...from a module, the package holding it
        ("keylock.host.server.server", False, 1, "db", "keylock.host.server.db"),
        ("keylock.host.server.server", False, 1, None, "keylock.host.server"),
        ("keylock.host.errors", False, 1, "render", "keylock.host.render"),
        ("keylock.host.server", True, 2, "errors", "keylock.host.errors"),
        ("keylock.host.server.db", False, 2, "errors", "keylock.host.errors"),
        # level 3 from host/link/x.py reaches the namespace
        ("keylock.host.link.x", False, 3, "protocol", "keylock.protocol"),
        ("keylock.host.link.x", False, 3, "protocol.codes", "keylock.protocol.codes"),
        ("keylock.host.link", True, 3, "protocol", "keylock.protocol"),
        ("keylock.host.link.urlhandler.protocol_keylock", False, 3, "errors", "keylock.host.errors"),
        ("keylock.firmware.frame", False, 2, "protocol", "keylock.protocol"),
        ("keylock.firmware.frame", False, 0, "keylock.protocol", "keylock.protocol"),
    ],
)
def test_resolve_relative(importer, is_package, level, name, expected):
    assert layering.resolve_relative(importer, is_package, level, name) == expected


@pytest.mark.parametrize(
    ("importer", "is_package", "level"),
    [("keylock.firmware.frame", False, 3), ("keylock.firmware", True, 3), ("keylock.host.link.x", False, 4)],
)
def test_resolve_relative_refuses_to_leave_the_namespace(importer, is_package, level):
    with pytest.raises(ValueError, match="beyond the top-level package"):
        layering.resolve_relative(importer, is_package, level, "x")


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def edges(report) -> set[tuple[str, int, str]]:
    return {(i.path, i.line, i.target) for i in report.imports}


def test_what_counts_as_an_import(tmp_path):
    write(
        tmp_path,
        {
            "firmware/__init__.py": "",
            "firmware/codec.py": "",
            "firmware/frame.py": (
                "import micropython\n"  # not ours
                "from . import codec, CONST\n"  # a submodule, and a name of the package's __init__
                "from .codec import pack\n"
                "SCRIPT = 'from keylock.host.cli import commands'\n"  # text, not an import
                "try:\n"
                "    from keylock_fw import codec as fw\n"  # MicroPython's name for the firmware: not ours
                "except ImportError:\n"
                "    pass\n"
                "class A:\n"
                "    def f(self):\n"
                "        with open('x'):\n"
                "            from .codec import unpack\n"
            ),
            "hw_models/__init__.py": "",
            "hw_models/fleet.py": "",
            "host/__init__.py": "from . import errors\n",
            "host/errors.py": "",
            "host/server/__init__.py": "from .db import open_db\nfrom . import db, VERSION\nfrom .. import errors\n",
            "host/server/db.py": "import keylock.host.errors\nimport keylock\nfrom keylock import hw_models\nfrom keylock.hw_models import fleet, battery\nfrom keylock.hw_models import *\n",
        },
    )
    report = layering.analyse(tmp_path)
    assert report.modules == {
        "keylock.firmware": "firmware/__init__.py",
        "keylock.firmware.codec": "firmware/codec.py",
        "keylock.firmware.frame": "firmware/frame.py",
        "keylock.hw_models": "hw_models/__init__.py",
        "keylock.hw_models.fleet": "hw_models/fleet.py",
        "keylock.host": "host/__init__.py",
        "keylock.host.errors": "host/errors.py",
        "keylock.host.server": "host/server/__init__.py",
        "keylock.host.server.db": "host/server/db.py",
    }
    assert edges(report) == {
        ("firmware/frame.py", 2, "keylock.firmware.codec"),
        ("firmware/frame.py", 2, "keylock.firmware"),
        ("firmware/frame.py", 3, "keylock.firmware.codec"),
        ("firmware/frame.py", 12, "keylock.firmware.codec"),
        ("host/__init__.py", 1, "keylock.host.errors"),
        ("host/server/__init__.py", 1, "keylock.host.server.db"),
        ("host/server/__init__.py", 2, "keylock.host.server.db"),
        ("host/server/__init__.py", 2, "keylock.host.server"),
        ("host/server/__init__.py", 3, "keylock.host.errors"),
        ("host/server/db.py", 1, "keylock.host.errors"),
        ("host/server/db.py", 3, "keylock.hw_models"),
        ("host/server/db.py", 4, "keylock.hw_models.fleet"),
        ("host/server/db.py", 4, "keylock.hw_models"),
        ("host/server/db.py", 5, "keylock.hw_models"),
    }
    assert report.problems == []  # a package importing a name of its own __init__ is no cycle


def test_a_package_and_its_modules_importing_each_other_is_a_cycle(tmp_path):
    # `from . import db` in the package and `from . import VERSION` (a name of the package's
    # __init__) in the module: importing keylock.host.server.db first really does fail.
    write(
        tmp_path,
        {
            "host/__init__.py": "",
            "host/server/__init__.py": "from . import db\nVERSION = 1\n",
            "host/server/db.py": "from . import VERSION\n",
        },
    )
    assert layering.check(tmp_path) == [
        "cycle: keylock.host.server -> keylock.host.server.db -> keylock.host.server (at host/server/__init__.py:1, host/server/db.py:1)"
    ]


def test_unparsable_and_out_of_namespace_imports_are_reported(tmp_path):
    write(
        tmp_path,
        {
            "firmware/__init__.py": "",
            "firmware/frame.py": "from ... import protocol\n",
            "firmware/broken.py": "def (:\n",
        },
    )
    assert layering.check(tmp_path) == [
        "firmware/broken.py:1: cannot be parsed: invalid syntax",
        "firmware/frame.py:1: relative import beyond the top-level package (level 3 in keylock.firmware.frame)",
    ]


def test_every_layer_is_placed_and_only_imports_known_layers():
    # The rules themselves: no layer allows one that does not exist, and the host's layers
    # form no cycle among themselves (so the module graph can have none across layers).
    for layer, allowed in layering.RULES.items():
        assert set(allowed) <= set(layering.RULES) - {layer}, layer
    order: list[str] = []
    pending = dict(layering.RULES)
    while pending:
        ready = [layer for layer, allowed in pending.items() if set(allowed) <= set(order)]
        assert ready, f"the rules allow a cycle among {sorted(pending)}"
        order += ready
        for layer in ready:
            del pending[layer]
    assert not any("benchmarks" in layering.RULES[layer] for layer in layering.RULES if layer.startswith("host."))
