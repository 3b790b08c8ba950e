"""A batch's results as a JUnit XML report, the shape pytest's --junit-xml writes (xunit2), so
CI systems that show pytest's reports show scenario runs the same way:

    <testsuites name="keylock scenario run">
      <testsuite name="keylock scenarios" tests= failures= errors= skipped="0" time= timestamp= hostname=>
        <testcase classname="library.cold_morning" name="SCENARIO NAME" time="1.234">
          <failure message="step 5 (open, line 12): expected ..., saw ...">steps and why</failure>
          <system-out>one line per step and the summary, as `keylock scenario run` prints them</system-out>

One testcase per scenario (a file holds one), named by the scenario's name; its classname is
the file's path without `.scenario.yaml`, dotted. A failed expectation is a <failure>; a
timeout or an engine that raised is an <error> (as pytest reports a test that could not run
to its verdict).
"""

import platform
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path, PurePath

from .batch import ERROR, FAILED, TIMED_OUT, FileRun

SUITE_NAME = "keylock scenarios"
_MESSAGE_BUDGET = 500  # characters of a message attribute; the element's text has it all

# XML 1.0 cannot carry these characters at all, escaped or not (pytest replaces them too).
_ILLEGAL_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _message(value: str) -> str:
    value = _text(value)
    return value if len(value) <= _MESSAGE_BUDGET else value[:_MESSAGE_BUDGET] + "..."


def classname(path: str) -> str:
    """`host/scenario/library/cold_morning.scenario.yaml` -> `host.scenario.library.cold_morning`."""
    parts = [p for p in PurePath(path).parts if p not in ("/", "\\", ".", "..")]
    if parts:
        last = parts[-1]
        for suffix in (".scenario.yaml", ".scenario.yml", ".yaml", ".yml"):
            if last.endswith(suffix):
                last = last[: -len(suffix)]
                break
        parts[-1] = last
    return ".".join(p.replace(".", "_") for p in parts) or "scenario"


def _system_out(file_run: FileRun) -> str:
    lines = [line for step in file_run.steps for line in step["lines"]]
    lines += file_run.summary_lines
    if file_run.message:
        lines.append(file_run.problem())
    return "\n".join(lines) + "\n"


def testcase(file_run: FileRun) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=_text(classname(file_run.scenario.path)),
        name=_text(file_run.scenario.name),
        time=f"{file_run.time_s:.3f}",
    )
    if file_run.status == FAILED and file_run.failure is not None:
        f = file_run.failure
        message = f"step {f['index']} ({f['action']}, line {f['line']}): expected {f['expected']}, saw {f['seen']}"
        failure = ET.SubElement(case, "failure", message=_message(message))
        failed_lines = [line for step in file_run.steps if not step["passed"] for line in step["lines"]]
        failure.text = _text("\n".join([f"{file_run.scenario.path}:{f['line']}: {message}", f["problem"] or "", *failed_lines]))
    elif file_run.status in (TIMED_OUT, ERROR):
        message = file_run.problem()
        error = ET.SubElement(case, "error", message=_message(message))
        if file_run.status == TIMED_OUT:
            error.set("type", "timeout")
        error.text = _text(file_run.detail or message)
    ET.SubElement(case, "system-out").text = _text(_system_out(file_run))
    return case


def document(file_runs: list[FileRun], started: datetime, time_s: float) -> ET.Element:
    """The <testsuites> element; `started` is when the batch began (aware), `time_s` its length."""
    suite = ET.Element(
        "testsuite",
        name=SUITE_NAME,
        errors=str(sum(r.status in (TIMED_OUT, ERROR) for r in file_runs)),
        failures=str(sum(r.status == FAILED for r in file_runs)),
        skipped="0",
        tests=str(len(file_runs)),
        time=f"{time_s:.3f}",
        timestamp=started.isoformat(),
        hostname=_text(platform.node()),
    )
    suite.extend(testcase(r) for r in file_runs)
    root = ET.Element("testsuites", name="keylock scenario run")
    root.append(suite)
    return root


def write(path: Path, file_runs: list[FileRun], started: datetime, time_s: float) -> None:
    """Write the report to `path` (its folder must exist), UTF-8 with an XML declaration."""
    tree = ET.ElementTree(document(file_runs, started, time_s))
    ET.indent(tree)
    with open(path, "wb") as out:
        tree.write(out, encoding="utf-8", xml_declaration=True)
