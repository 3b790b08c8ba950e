"""pytest plugin: every `*.scenario.yaml` file is a test, named after its scenario.

Installed as the `keylock` pytest11 entry point, so `pytest tests/` runs scenario files
next to Python tests. Options (group "keylock"):

  --scenario-runtime cpython|micropython   overrides each file's `runtime:` (default: the
                                           file's, else cpython)
  --scenario-engine module:function        the engine factory, called as
                                           factory(runtime, scenario); default: the
                                           KEYLOCK_SCENARIO_ENGINE environment variable,
                                           else keylock.host.emulator (engine.make_engine)

A malformed file is a collection error showing `FILE:LINE: reason`; a failed expectation
shows the step, its line, what was expected and what was seen, and the steps run before it.
"""

import pytest

from .errors import KeylockError
from .scenario import report as show
from .scenario.engine import load_factory, make_engine
from .scenario.model import RUNTIMES, ScenarioError
from .scenario.parse import load
from .scenario.runner import run

SUFFIX = ".scenario.yaml"


def pytest_addoption(parser):
    group = parser.getgroup("keylock", "keylock scenario files (*.scenario.yaml)")
    group.addoption(
        "--scenario-runtime",
        choices=RUNTIMES,
        default=None,
        help="run scenario files on this runtime (default: each file's runtime:, else cpython)",
    )
    group.addoption(
        "--scenario-engine",
        default=None,
        metavar="MODULE:FUNCTION",
        help="engine factory for scenario files (default: $KEYLOCK_SCENARIO_ENGINE, else the emulator)",
    )


def pytest_collect_file(file_path, parent):
    if file_path.name.endswith(SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        try:
            scenario = load(self.path)
        except ScenarioError as exc:
            # CollectError is shown as its message alone: FILE:LINE: reason, no traceback.
            raise self.CollectError(str(exc)) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioFailed(Exception):
    """A step's outcome did not meet its expectation."""

    def __init__(self, result):
        super().__init__(result.failed.problem)
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self):
        runtime = self.config.getoption("scenario_runtime") or self.scenario.runtime
        spec = self.config.getoption("scenario_engine")
        engine = load_factory(spec)(runtime, self.scenario) if spec else make_engine(runtime, self.scenario)
        result = run(self.scenario, engine, runtime)
        self.user_properties.append(("summary", show.summary_json(result)))
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            result = excinfo.value.result
            bad = result.failed
            lines = [
                f"{self.scenario.path}:{bad.step.line}: step {bad.step.index} ({bad.step.action}) failed",
                f"  expected: {show.expect_text(bad.expected)}",
                f"  seen:     {show.seen_text(bad)}",
                f"  {bad.problem}",
                "",
                f"steps run ({result.runtime}):",
            ]
            for step_report in result.steps:
                lines += show.step_lines(step_report)
            return "\n".join(lines)
        if isinstance(excinfo.value, KeylockError):  # e.g. the emulator is not built yet
            return f"{self.scenario.path}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"scenario: {self.name}"
