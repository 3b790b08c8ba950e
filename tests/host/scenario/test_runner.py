"""The runner's matching rules, on a scripted engine: what passes, what fails, and where it stops."""

import textwrap
from datetime import UTC, datetime

import pytest
from scripted_engine import ScriptedEngine

from keylock.host.scenario import report as scenario_report
from keylock.host.scenario.engine import ScenarioEvent, StepResult
from keylock.host.scenario.parse import parse_text
from keylock.host.scenario.runner import numbers_match, run, summarize

SITE = """\
name: runner
site:
  keys: [{id: K1}, {id: K2}, {id: K3}]
  locks: [{id: L1}]
  phones: [P1]
steps:
"""


def run_steps(steps: str, table=None):
    scenario = parse_text(SITE + textwrap.indent(textwrap.dedent(steps), "  "), "r.scenario.yaml")
    engine = ScriptedEngine(table=table or {})
    return run(scenario, engine, "cpython"), engine


@pytest.mark.parametrize(
    "expected, seen, match",
    [
        (0.5, 0.505, True),
        (0.5, 0.51, True),
        (0.5, 0.5101, False),  # 0.01 is larger than 1 % of 0.5
        (100, 101, True),
        (100, 101.01, False),
        (100, 99, True),  # 1 % is larger than 0.01
        (0, 0.01, True),
        (0, -0.01, True),
        (0, 0.011, False),
        (3000, 3030, True),
        (3, 3, True),
        (3, 4, False),
        (1, True, False),
        (1, "1", False),
        (1, None, False),
        (1, float("nan"), False),
    ],
)
def test_numbers_match_within_one_percent_or_a_hundredth(expected, seen, match):
    assert numbers_match(expected, seen) is match


def test_steps_without_expect_must_succeed_and_all_are_called_in_order():
    report, engine = run_steps(
        """\
        - grant: {key: K1, locks: [L1]}
        - validate: {key: K1, phone: P1}
        - open: {key: K1, lock: L1, hold: 5s}
        - advance: 1d
        - battery_report:
        """
    )
    assert report.passed and engine.closed and engine.scenario.name == "runner"
    assert [c[0] for c in engine.calls] == ["grant", "validate", "open", "advance", "battery_report"]
    assert engine.calls[2][1] == {"key": "K1", "lock": "L1", "hold_s": 5.0}


@pytest.mark.parametrize(
    "step, outcome, problem",
    [
        ("open: {key: K1, lock: L1}", StepResult("denied", reason="blocked"), "result is denied, expected granted"),
        ("validate: {key: K1}", StepResult("error", code="offline"), "result is error, expected ok"),
        ("advance: 1h", StepResult("error", code="offline"), "result is error, expected ok"),
        ("insert: {key: K1, lock: L1}", StepResult("ok"), "result is ok, expected granted"),
    ],
)
def test_a_step_without_expect_fails_unless_it_succeeds(step, outcome, problem):
    report, _ = run_steps(f"- {step}\n", {1: outcome})
    assert not report.passed and report.failed.problem == problem


def test_the_first_failing_step_stops_the_scenario():
    report, engine = run_steps(
        """\
        - open: {key: K1, lock: L1}
          expect: {denied: validity_expired}
        - open: {key: K1, lock: L1}
          expect: {denied: validity_expired}
        - advance: 1h
        """,
        {1: StepResult("denied", reason="validity_expired"), 2: StepResult("denied", reason="not_validated")},
    )
    assert [r.passed for r in report.steps] == [True, False]
    assert len(engine.calls) == 2 and engine.closed
    assert report.failed.step.index == 2 and report.failed.step.line == 9
    assert report.failed.problem == "denied for not_validated, expected validity_expired"
    assert scenario_report.seen_text(report.failed) == "{denied: not_validated}"
    assert scenario_report.expect_text(report.failed.expected) == "{denied: validity_expired}"


def test_error_codes_must_match():
    report, _ = run_steps("- validate: {key: K1}\n  expect: {error: offline}\n", {1: StepResult("error", code="blocked")})
    assert report.failed.problem == "error blocked, expected offline"
    report, _ = run_steps("- validate: {key: K1}\n  expect: {error: offline}\n", {1: StepResult("error", code="offline")})
    assert report.passed


KEY_STATUS = {
    "battery_low": True,
    "soc": 0.149,
    "validated": True,
    "valid_until": "2026-01-15T08:00:00+00:00",
    "paired_phone": "P1",
    "clock_set": True,
}


@pytest.mark.parametrize(
    "expect, passed, problem",
    [
        ("{battery_low: true}", True, None),
        ("{soc: 0.15}", True, None),  # within 0.01
        ("{soc: 0.159}", True, None),
        ("{soc: 0.16}", False, "soc is 0.149, expected 0.16"),
        ("{soc: 0.17}", False, "soc is 0.149, expected 0.17"),
        ("{valid_until: 2026-01-15T08:00:00Z, paired_phone: P1}", True, None),
        ("{valid_until: 2026-01-15T09:00:00+01:00}", True, None),  # the same instant
        ("{valid_until: 2026-01-15T08:00:02Z}", False, "valid_until is '2026-01-15T08:00:00+00:00', expected"),
        ("{valid_until: null}", False, "valid_until is"),
        ("{paired_phone: null}", False, "paired_phone is 'P1', expected None"),
        ("{battery_low: false, soc: 0.15}", False, "battery_low is True, expected False"),
    ],
)
def test_key_status_compares_only_the_named_fields(expect, passed, problem):
    report, _ = run_steps(f"- status: {{key: K1}}\n  expect: {expect}\n", {1: StepResult(fields=dict(KEY_STATUS))})
    assert report.passed is passed
    if problem:
        assert report.failed.problem.startswith(problem)


def test_lock_status_fields_and_a_field_the_engine_did_not_report():
    fields = {"blocklist_version": 3, "blocklist_size": 3000, "events": 2, "temperature_C": 84.6}
    report, _ = run_steps("- status: {lock: L1}\n  expect: {blocklist_version: 3, temperature_C: 85}\n", {1: StepResult(fields=fields)})
    assert report.passed  # 84.6 is within 1 % of 85
    report, _ = run_steps("- status: {lock: L1}\n  expect: {events: 2}\n", {1: StepResult(fields={"blocklist_version": 3})})
    assert report.failed.problem == "status has no field events"


def test_valid_until_may_be_a_datetime():
    t = datetime(2026, 1, 15, 8, tzinfo=UTC)
    report, _ = run_steps(
        "- status: {key: K1}\n  expect: {valid_until: 2026-01-15T08:00:00Z}\n", {1: StepResult(fields={"valid_until": t})}
    )
    assert report.passed


@pytest.mark.parametrize(
    "seen, passed, problem",
    [
        (["K2", "K1"], True, None),
        (["K1"], False, "battery report lacks K2"),
        (["K1", "K2", "K3"], False, "battery report also has K3"),
        ([], False, "battery report lacks K1, K2"),
    ],
)
def test_battery_report_is_an_exact_set(seen, passed, problem):
    report, _ = run_steps("- battery_report:\n  expect: {keys: [K1, K2]}\n", {1: StepResult(keys=seen)})
    assert report.passed is passed
    if problem:
        assert report.failed.problem == problem


@pytest.mark.parametrize(
    "expect, seen, passed, problem",
    [
        ("{at_risk: [K1]}", {"K1": "2026-01-08"}, True, None),
        ("{at_risk: {K1: 2026-01-08}}", {"K1": "2026-01-08"}, True, None),
        ("{at_risk: {K1: 2026-01-08}}", {"K1": "2026-01-09"}, False, "battery report at_risk: K1 fails on 2026-01-09, expected 2026-01-08"),
        ("{at_risk: {K1: null}}", {"K1": "2026-01-09"}, True, None),
        ("{at_risk: [K1]}", {}, False, "battery report at_risk lacks K1"),
        ("{at_risk: []}", {"K2": "2026-01-06"}, False, "battery report at_risk also has K2"),
        ("{keys: [K2], at_risk: [K1]}", {"K1": "2026-01-06"}, False, "battery report lacks K2"),  # both parts compared
        ("{keys: []}", {"K1": "2026-01-06"}, True, None),  # at_risk not named: not compared
    ],
)
def test_battery_report_at_risk_is_an_exact_set_with_dates_when_given(expect, seen, passed, problem):
    report, _ = run_steps(f"- battery_report:\n  expect: {expect}\n", {1: StepResult(keys=[], at_risk=seen)})
    assert report.passed is passed
    if problem:
        assert report.failed.problem == problem
        assert "at_risk" in scenario_report.expect_text(report.failed.expected) or "keys" in expect


G1, D1, D2 = ScenarioEvent("K1", "granted"), ScenarioEvent("K2", "denied", "blocked"), ScenarioEvent("K3", "denied", "not_authorized")


@pytest.mark.parametrize(
    "seen, passed, problem",
    [
        ([G1, D1, D2], True, None),
        ([D1, G1, D2], False, "audit event 1 is {key: K2, denied: blocked}, expected {key: K1, result: granted}"),
        ([G1, D1], False, "audit has 2 events, expected 3"),
        ([G1, D1, D2, G1], False, "audit has 4 events, expected 3"),
        ([G1, D1, ScenarioEvent("K3", "denied", "blocked")], True, None),  # `result: denied` takes any reason
        ([G1, D1, ScenarioEvent("K3", "granted")], False, "audit event 3 is {key: K3, result: granted}"),
    ],
)
def test_audit_is_an_exact_list_oldest_first(seen, passed, problem):
    expect = "[{key: K1, result: granted}, {key: K2, denied: blocked}, {key: K3, result: denied}]"
    report, engine = run_steps(f"- audit: {{lock: L1, last: 3}}\n  expect: {expect}\n", {1: StepResult(events=seen)})
    assert report.passed is passed
    assert engine.calls[0] == ("audit", {"key": None, "lock": "L1", "last": 3})
    if problem:
        assert report.failed.problem.startswith(problem)


def test_summary_counts_openings_and_sums_up_numeric_details():
    report, _ = run_steps(
        """\
        - open: {key: K1, lock: L1}
        - open: {key: K2, lock: L1}
          expect: {denied: blocked}
        - insert: {key: K3, lock: L1}
          expect: {denied: low_battery}
        - open: {key: K1, lock: L1}
        """,
        {
            1: StepResult("granted", details={"energy_J": 0.010, "soc": 0.9}),
            2: StepResult("denied", reason="blocked", details={"energy_J": 0.004}),
            3: StepResult("denied", reason="low_battery", details={"note": "browned out"}),
            4: StepResult("granted", details={"energy_J": 0.012, "soc": 0.89}),
        },
    )
    s = summarize(report)
    assert s["passed"] and (s["steps"], s["steps_run"], s["failed_step"]) == (4, 4, None)
    assert s["openings"] == {"granted": 2, "denied": {"blocked": 1, "low_battery": 1}}
    energy = s["details"]["open"]["energy_J"]
    assert energy["count"] == 3 and energy["min"] == 0.004 and energy["max"] == 0.012
    assert energy["mean"] == pytest.approx(0.026 / 3)
    assert "insert" not in s["details"]  # text details are shown per step, not summed
    assert s["engine"] == {"battery_soc": {"K1": 0.5}}
    text = "\n".join(scenario_report.summary_lines(report))
    assert "openings: 2 granted, 2 denied (blocked 1, low_battery 1)" in text
    assert "open energy_J: mean 0.00866667, min 0.004, max 0.012 over 3" in text
    assert "battery_soc: K1 0.5" in text


def test_an_engine_that_returns_something_else_is_a_bug_and_the_engine_is_closed():
    class Broken(ScriptedEngine):
        def advance(self, **args):
            return "ok"

    scenario = parse_text(SITE + "  - advance: 1s\n")
    engine = Broken()
    with pytest.raises(TypeError, match="Engine.advance returned str, not an StepResult"):
        run(scenario, engine, "cpython")
    assert engine.closed
