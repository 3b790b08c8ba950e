"""Durations both ways, and no input text makes the parser raise anything but ScenarioError."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keylock.host.scenario.model import ScenarioError
from keylock.host.scenario.parse import parse_text
from keylock.host.scenario.values import (
    MAX_DURATION_S,
    format_duration,
    parse_duration,
    parse_time_of_day,
)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("10d", 864000),
        ("1d2h", 93600),
        ("1h30m", 5400),
        ("2d3h4m5s", 183845),
        ("90", 90),
        ("0", 0),
        ("0.5", 0.5),
        ("0.1s", 0.1),
        ("1.5h", 5400),
        ("36500d", MAX_DURATION_S),
    ],
)
def test_known_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1", "1x", "2h1d", "1d 2h", "-1s", "1e3", "1,5h", "1:30", "٣s", "1d2", "36500d1s"])
def test_not_durations(text):
    if text == "1":  # a plain number is seconds
        assert parse_duration(text) == 1
        return
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=MAX_DURATION_S))
def test_duration_round_trip(seconds):
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert text == "0s" or text[0] != "0"  # the shortest form: no zero units


@given(d=st.integers(0, 99), h=st.integers(0, 23), m=st.integers(0, 59), s=st.integers(0, 59))
def test_duration_components_add_up(d, h, m, s):
    text = "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n) or "0s"
    assert parse_duration(text) == d * 86400 + h * 3600 + m * 60 + s


@given(st.integers(0, 23), st.integers(0, 59))
def test_time_of_day(hours, minutes):
    assert parse_time_of_day(f"{hours:02d}:{minutes:02d}") == hours * 60 + minutes


def _never_raises_anything_else(text):
    try:
        parse_text(text, "fuzz.scenario.yaml")
    except ScenarioError as exc:
        assert exc.line >= 1 and exc.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_garbage_text_raises_only_scenario_error(text):
    _never_raises_anything_else(text)


# Text made of YAML's own punctuation and the scenario vocabulary reaches far deeper into the
# parser than random characters do.
_WORDS = [
    "steps:",
    "site:",
    "keys:",
    "locks:",
    "phones:",
    "expect:",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "  ",
    "id: K1",
    "K1",
    "L1",
    "P1",
    "open:",
    "advance:",
    "status:",
    "audit:",
    "grant:",
    "key:",
    "lock:",
    "locks:",
    "groups:",
    "schedule:",
    "days:",
    "from:",
    "to:",
    "10d",
    "1.5",
    "-3",
    "null",
    "true",
    "&a",
    "*a",
    "!!str",
    "!x",
    "'",
    '"',
    "#",
    "denied:",
    "error:",
    "granted",
    "ok",
    "timezone:",
    "start:",
    "soc:",
    "last:",
    "2026-01-05",
    "16:00",
    "?",
    "|",
    ">",
    "%",
    "@",
    "\t",
    "---",
    "...",
    "<<: *a",
    "~",
    "\x00",
    "é",
]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS), max_size=60).map("".join))
def test_yaml_like_garbage_raises_only_scenario_error(text):
    _never_raises_anything_else(text)


_VALID = """\
site:
  keys: [{id: K1}]
  locks: [{id: L1, group: g}]
  phones: [P1]
steps:
  - grant: {key: K1, groups: [g], schedule: {days: [mon], from: "07:00", to: "16:00"}}
  - open: {key: K1, lock: L1}
    expect: {denied: blocked}
  - status: {key: K1}
    expect: {soc: 0.5, valid_until: 2026-01-15T08:00:00Z}
  - audit: {lock: L1, last: 1}
    expect: [{key: K1, denied: blocked}]
"""


@settings(max_examples=500)
@given(st.integers(0, len(_VALID) - 1), st.integers(0, 12), st.text(max_size=4))
def test_a_valid_file_garbled_raises_only_scenario_error(at, cut, insert):
    _never_raises_anything_else(_VALID[:at] + insert + _VALID[at + cut :])
