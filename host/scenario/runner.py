"""Run a Scenario on an Engine: steps in order, each outcome checked against its expectation.

The matching rules are those of shared/SCENARIOS.md: a step without `expect` must succeed
(`granted` for open and insert, `ok` otherwise); numbers match within 1 % or 0.01, whichever
is larger; status compares only the fields named; the battery report is an exact set; audit
events are an exact list, oldest first. The first failing step stops the scenario.
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .engine import Engine, StepResult
from .model import (
    KEY_STATUS_FIELDS,
    LOCK_STATUS_FIELDS,
    Expect,
    Scenario,
    ScenarioEvent,
    Step,
)

OPENINGS = ("open", "insert")
_TIME_TOLERANCE_S = 1.0  # valid_until: the engine's clock may carry fractions of a second


@dataclass
class StepReport:
    step: Step
    outcome: StepResult
    expected: Expect
    problem: str | None = None  # what did not match; None when the step passed

    @property
    def passed(self) -> bool:
        return self.problem is None


@dataclass
class RunReport:
    scenario: Scenario
    runtime: str
    steps: list[StepReport] = field(default_factory=list)
    engine_summary: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.steps) and len(self.steps) == len(self.scenario.steps)

    @property
    def failed(self) -> StepReport | None:
        return next((r for r in self.steps if not r.passed), None)


def default_expect(step: Step) -> Expect:
    return step.expect or Expect(result="granted" if step.action in OPENINGS else "ok", line=step.line)


def run(scenario: Scenario, engine: Engine, runtime: str, on_step=None) -> RunReport:
    """Set the engine up, run the steps until one fails, close the engine.

    `on_step(StepReport)` is called after each step, so a caller can print as it goes.
    """
    report = RunReport(scenario, runtime)
    try:
        engine.setup(scenario)
        for step in scenario.steps:
            outcome = getattr(engine, step.action)(**step.args)
            if not isinstance(outcome, StepResult):
                raise TypeError(f"Engine.{step.action} returned {type(outcome).__name__}, not an StepResult")
            expected = default_expect(step)
            step_report = StepReport(step, outcome, expected, mismatch(step, expected, outcome))
            report.steps.append(step_report)
            if on_step is not None:
                on_step(step_report)
            if not step_report.passed:
                break
        report.engine_summary = engine.summary() or {}
    finally:
        engine.close()
    return report


def numbers_match(expected: float, seen) -> bool:
    """Within 1 % of the expected value or 0.01, whichever is larger."""
    if isinstance(seen, bool) or not isinstance(seen, (int, float)) or not math.isfinite(seen):
        return False
    tolerance = max(0.01 * abs(expected), 0.01)
    return abs(seen - expected) <= tolerance * (1 + 1e-9)  # inclusive, despite float rounding


def mismatch(step: Step, expected: Expect, outcome: StepResult) -> str | None:
    """Why `outcome` does not meet `expected`, or None when it does."""
    if outcome.result != expected.result:
        return f"result is {outcome.result}, expected {expected.result}"
    if expected.result == "denied" and expected.reason != outcome.reason:
        return f"denied for {outcome.reason}, expected {expected.reason}"
    if expected.result == "error" and expected.code != outcome.code:
        return f"error {outcome.code}, expected {expected.code}"
    if expected.fields is not None:
        kinds = KEY_STATUS_FIELDS if step.args.get("key") is not None else LOCK_STATUS_FIELDS
        for name, want in expected.fields.items():
            if name not in outcome.fields:
                return f"status has no field {name}"
            if not _field_matches(kinds[name], want, outcome.fields[name]):
                return f"{name} is {outcome.fields[name]!r}, expected {want!r}"
    if expected.keys is not None:
        seen = set(outcome.keys or ())
        missing, extra = sorted(expected.keys - seen), sorted(seen - expected.keys)
        if missing or extra:
            return "battery report " + "; ".join(
                part for part in (f"lacks {', '.join(missing)}" if missing else "", f"also has {', '.join(extra)}" if extra else "") if part
            )
    if expected.at_risk is not None:
        seen_risk = dict(outcome.at_risk or {})
        missing, extra = sorted(set(expected.at_risk) - set(seen_risk)), sorted(set(seen_risk) - set(expected.at_risk))
        if missing or extra:
            return "battery report at_risk " + "; ".join(
                part for part in (f"lacks {', '.join(missing)}" if missing else "", f"also has {', '.join(extra)}" if extra else "") if part
            )
        for key, day in sorted(expected.at_risk.items()):
            if day is not None and str(seen_risk[key]) != day.isoformat():
                return f"battery report at_risk: {key} fails on {seen_risk[key]}, expected {day.isoformat()}"
    if expected.events is not None:
        return _events_mismatch(expected.events, list(outcome.events or ()))
    return None


def _field_matches(kind: str, want, seen) -> bool:
    if kind in ("number", "int"):
        return numbers_match(want, seen)
    if kind == "bool":
        return not isinstance(seen, str) and seen is not None and bool(seen) == want and seen in (0, 1)
    if kind == "time":
        if want is None or seen is None:
            return want is None and seen is None
        seen_time = _as_time(seen)
        return seen_time is not None and abs((seen_time - want).total_seconds()) <= _TIME_TOLERANCE_S
    return seen == want  # phone ids and None


def _as_time(value) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _events_mismatch(wanted: tuple[ScenarioEvent, ...], seen: list[ScenarioEvent]) -> str | None:
    for i, (w, s) in enumerate(zip(wanted, seen, strict=False), 1):
        if w.key != s.key or w.result != s.result or (w.reason is not None and w.reason != s.reason):
            return f"audit event {i} is {_event_text(s)}, expected {_event_text(w)}"
    if len(wanted) != len(seen):
        return f"audit has {len(seen)} events, expected {len(wanted)}"
    return None


def _event_text(event: ScenarioEvent) -> str:
    if event.result == "denied" and event.reason:
        return f"{{key: {event.key}, denied: {event.reason}}}"
    return f"{{key: {event.key}, result: {event.result}}}"


def summarize(report: RunReport) -> dict:
    """Openings granted and denied by reason, numeric details per action, the engine's figures."""
    granted, denied = 0, Counter()
    numbers: dict[str, dict[str, list[float]]] = {}
    for r in report.steps:
        if r.step.action in OPENINGS:
            if r.outcome.result == "granted":
                granted += 1
            elif r.outcome.result == "denied":
                denied[r.outcome.reason or "unknown"] += 1
        for name, value in r.outcome.details.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                numbers.setdefault(r.step.action, {}).setdefault(name, []).append(float(value))
    failed = report.failed
    return {
        "scenario": report.scenario.name,
        "file": report.scenario.path,
        "runtime": report.runtime,
        "passed": report.passed,
        "steps": len(report.scenario.steps),
        "steps_run": len(report.steps),
        "failed_step": failed.step.index if failed else None,
        "openings": {"granted": granted, "denied": dict(sorted(denied.items()))},
        "details": {
            action: {
                name: {"count": len(v), "total": sum(v), "mean": sum(v) / len(v), "min": min(v), "max": max(v)}
                for name, v in by_name.items()
            }
            for action, by_name in numbers.items()
        },
        "engine": report.engine_summary,
    }
