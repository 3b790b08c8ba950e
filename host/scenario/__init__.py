"""Scenario files (shared/SCENARIOS.md): parse them, run them on an Engine, report.

model    the parsed scenario: site, steps, expectations
values   durations, times of day, ISO times and time zones from their text
parse    YAML text to the model, every error with its file and line
engine   the interface the emulator implements (the emulator's factory finds it)
runner   runs a scenario on an engine and checks outcomes against expectations
report   one line per step and a summary, or JSON objects
library/ the scenario library `keylock demo` runs (package data)
"""

from pathlib import Path

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
