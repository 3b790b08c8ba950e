"""The pytest plugin's scenario files, run through pytester: collection, names, options, failures, bad files."""

import pytest

from keylock.host.emulator.factory import ENGINE_ENV

pytest_plugins = ["pytester"]

# The engine the pytester runs use: step 3 of "fails at three" is denied, everything else succeeds.
ENGINE_MODULE = """
from keylock.host.scenario.engine import StepResult
import scripted_engine

RUNTIMES = []

def make(runtime, scenario):
    RUNTIMES.append(runtime)
    table = {3: StepResult("denied", reason="low_battery")} if scenario.name == "fails at three" else {}
    return scripted_engine.ScriptedEngine(runtime, table)
"""

SCENARIO = """\
name: {name}
{runtime}site:
  keys: [{{id: K1}}]
  locks: [{{id: L1}}]
steps:
  - grant: {{key: K1, locks: [L1]}}
  - validate: {{key: K1}}
  - open: {{key: K1, lock: L1}}
"""


@pytest.fixture
def site(pytester, monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    pytester.makepyfile(plugin_engine=ENGINE_MODULE)
    pytester.syspathinsert()
    write(pytester, "passes.scenario.yaml", SCENARIO.format(name="opens once", runtime="runtime: micropython\n"))
    return pytester


# Inner runs without the hypothesis plugin (it takes a second to import), a cache or pytest-embedded
# (test_coexistence.py runs scenario files beside it).
QUIET = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-p", "no:pytest_embedded")


def write(pytester, name, text):
    # not pytester.makefile: its with_suffix would turn x.scenario into x.yaml
    (pytester.path / name).write_text(text)


def run(pytester, *args):
    return pytester.runpytest(*QUIET, "--keylock-scenario-engine", "plugin_engine:make", *args)


def test_each_scenario_file_is_one_test_named_after_its_scenario(site):
    write(site, "second.scenario.yaml.example", SCENARIO.format(name="not collected", runtime=""))
    write(site, "other.yaml", "name: not a scenario file\n")
    result = site.runpytest(*QUIET, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["passes.scenario.yaml::opens once", "*1 test collected*"])


def test_a_passing_scenario_uses_the_files_runtime(site):
    import plugin_engine

    plugin_engine.RUNTIMES.clear()
    result = run(site, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*passes.scenario.yaml::opens once PASSED*"])
    assert plugin_engine.RUNTIMES == ["micropython"]


def test_the_runtime_option_overrides_the_file(site):
    import plugin_engine

    plugin_engine.RUNTIMES.clear()
    write(site, "plain.scenario.yaml", SCENARIO.format(name="no runtime given", runtime=""))
    run(site, "--keylock-scenario-runtime", "micropython").assert_outcomes(passed=2)
    assert plugin_engine.RUNTIMES == ["micropython", "micropython"]
    plugin_engine.RUNTIMES.clear()
    run(site, "--keylock-scenario-runtime", "cpython").assert_outcomes(passed=2)
    assert plugin_engine.RUNTIMES == ["cpython", "cpython"]
    plugin_engine.RUNTIMES.clear()
    run(site).assert_outcomes(passed=2)
    assert sorted(plugin_engine.RUNTIMES) == ["cpython", "micropython"]  # each file's, else cpython


def test_a_failed_expectation_shows_the_step_expected_and_seen(site):
    write(site, "fails.scenario.yaml", SCENARIO.format(name="fails at three", runtime=""))
    result = run(site)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fails.scenario.yaml:8: step 3 (open) failed",
            "  expected: granted",
            "  seen:     {denied: low_battery}",
            "  result is denied, expected granted",
            "steps run (cpython):",
            "  1  grant *ok",
            "  3  open * {denied: low_battery}  FAILED",
            "*FAILED fails.scenario.yaml::fails at three*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_malformed_file_is_a_collection_error_with_line_and_reason(site):
    write(site, "broken.scenario.yaml", SCENARIO.format(name="broken", runtime="").replace("lock: L1}", "lock: L9}"))
    result = run(site, "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR collecting broken.scenario.yaml*", "*/broken.scenario.yaml:8: unknown lock 'L9'; the site's locks: L1"]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_engine_factory_from_the_environment(site, monkeypatch):
    monkeypatch.setenv(ENGINE_ENV, "plugin_engine:make")
    site.runpytest(*QUIET).assert_outcomes(passed=1)
