"""How a run is shown: one line per step and a summary, or one JSON object per step and a summary."""

import json
import math
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any

from .model import Expect
from .runner import RunReport, StepReport, summarize
from .values import format_duration

_DURATION_ARGS = ("seconds", "hold_s", "for_s")


def jsonable(value) -> Any:
    """Model values (tuples, sets, datetimes, dataclasses) as plain JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value) if f.name != "line"}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalars an engine may hand back
        return jsonable(item())
    return str(value)


def expect_text(expect: Expect) -> str:
    """An expectation as it would be written in the file."""
    if expect.fields is not None:
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in expect.fields.items()) + "}"
    if expect.keys is not None or expect.at_risk is not None:
        return _report_text(expect.keys, expect.at_risk)
    if expect.events is not None:
        return "[" + ", ".join(_event_text(e) for e in expect.events) + "]"
    return _result_text(expect.result, expect.reason, expect.code)


def seen_text(report: StepReport) -> str:
    """What the engine reported, in the shape of the step's expectation."""
    outcome, expect = report.outcome, report.expected
    if outcome.result != "ok" or expect.result != "ok":
        return _result_text(outcome.result, outcome.reason, outcome.code)
    if expect.fields is not None:
        return "{" + ", ".join(f"{k}: {_value_text(outcome.fields.get(k, '(missing)'))}" for k in expect.fields) + "}"
    if expect.keys is not None or expect.at_risk is not None:
        return _report_text(
            None if expect.keys is None else outcome.keys or (), None if expect.at_risk is None else dict(outcome.at_risk or {})
        )
    if expect.events is not None:
        return "[" + ", ".join(_event_text(e) for e in outcome.events or ()) + "]"
    return "ok"


def _report_text(keys, at_risk) -> str:
    """A battery report as an expectation writes it: the parts given, at_risk with dates."""
    parts = [] if keys is None else ["keys: [" + ", ".join(sorted(keys)) + "]"]
    if at_risk is not None:
        parts.append("at_risk: {" + ", ".join(f"{k}: {'any' if d is None else d}" for k, d in sorted(at_risk.items())) + "}")
    return "{" + ", ".join(parts) + "}"


def _result_text(result, reason, code) -> str:
    if result == "denied":
        return f"{{denied: {reason}}}"
    if result == "error":
        return f"{{error: {code}}}"
    return str(result)


def _event_text(event) -> str:
    if event.result == "denied" and event.reason:
        return f"{{key: {event.key}, denied: {event.reason}}}"
    return f"{{key: {event.key}, result: {event.result}}}"


def _value_text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def args_text(args: dict) -> str:
    parts = []
    for name, value in args.items():
        if value is None:
            continue
        if name in _DURATION_ARGS:
            value = format_duration(value)
        elif isinstance(value, (tuple, list)):
            value = ",".join(value)
        elif is_dataclass(value):
            value = "..."  # a schedule: too long for one line; --json has it
        parts.append(f"{name}={_value_text(value) if not isinstance(value, str) else value}")
    return " ".join(parts)


def step_lines(report: StepReport) -> list[str]:
    step = report.step
    details = "  ".join(f"{k}={_value_text(v)}" for k, v in report.outcome.details.items())
    line = f"{step.index:>3}  {step.action:<15} {args_text(step.args):<28} {seen_text(report)}"
    if details:
        line += f"  ({details})"
    if report.passed:
        return [line]
    return [
        line + "  FAILED",
        f"     step {step.index} (line {step.line}): expected {expect_text(report.expected)}, saw {seen_text(report)}",
        f"     {report.problem}",
    ]


def step_json(report: StepReport, scenario_name: str) -> dict:
    step, outcome = report.step, report.outcome
    return {
        "type": "step",
        "scenario": scenario_name,
        "index": step.index,
        "line": step.line,
        "action": step.action,
        "args": jsonable(step.args),
        "result": outcome.result,
        "reason": outcome.reason,
        "code": outcome.code,
        "expected": expect_text(report.expected),
        "seen": seen_text(report),
        "passed": report.passed,
        "problem": report.problem,
        "details": jsonable(outcome.details),
    }


def summary_lines(run: RunReport) -> list[str]:
    s = summarize(run)
    verdict = "PASSED" if s["passed"] else f"FAILED at step {s['failed_step']}"
    lines = [f"{verdict}: {s['scenario']} ({s['file']}, {s['runtime']}), {s['steps_run']} of {s['steps']} steps"]
    denied = ", ".join(f"{reason} {n}" for reason, n in s["openings"]["denied"].items())
    total_denied = sum(s["openings"]["denied"].values())
    lines.append(f"  openings: {s['openings']['granted']} granted, {total_denied} denied" + (f" ({denied})" if denied else ""))
    for action, by_name in s["details"].items():
        for name, st in by_name.items():
            lines.append(f"  {action} {name}: mean {st['mean']:.6g}, min {st['min']:.6g}, max {st['max']:.6g} over {st['count']}")
    for name, value in s["engine"].items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_value_text(v)}" for k, v in value.items())
        lines.append(f"  {name}: {_value_text(value) if not isinstance(value, str) else value}")
    return lines


def summary_json(run: RunReport) -> dict:
    return {"type": "summary", **jsonable(summarize(run))}


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)
