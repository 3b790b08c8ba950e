"""A site's `climate:` and the battery report's `at_risk` expectation (keylock's additions):
what a file says arrives in the model, and every malformed block is refused at its line."""

import math
import textwrap
from datetime import date

import pytest

from keylock.host.scenario.model import Climate, ColdSnap, ScenarioError
from keylock.host.scenario.parse import parse_text

HEAD = """\
name: climate
site:
  keys:
    - {id: K1}
    - {id: K2}
  locks:
    - {id: L1}
"""
STEPS = """\
steps:
  - battery_report:
"""


def site_with(climate: str):
    return parse_text(HEAD + textwrap.indent(textwrap.dedent(climate), "  ") + STEPS, "c.scenario.yaml").site


def test_monthly_means_swing_and_cold_snaps_reach_the_model():
    site = site_with(
        """\
        climate:
          monthly_mean_C: [-6, -6, -2, 4, 10, 15, 17, 16, 11, 6, 1, -3.5]
          daily_swing_K: 8
          cold_snaps:
            - {from: 2026-01-08, to: 2026-01-09, min_C: -20}
            - {from: 2026-02-01, to: 2026-02-01, min_C: -1}   # milder than February's dawn: no effect
        """
    )
    c = site.climate
    assert c == Climate(
        (-6, -6, -2, 4, 10, 15, 17, 16, 11, 6, 1, -3.5),
        8.0,
        (ColdSnap(date(2026, 1, 8), date(2026, 1, 9), -20.0), ColdSnap(date(2026, 2, 1), date(2026, 2, 1), -1.0)),
    )
    assert c.daily_min_C(date(2026, 1, 7)) == -10.0  # January's mean less half the swing
    assert c.daily_min_C(date(2026, 1, 8)) == c.daily_min_C(date(2026, 1, 9)) == -20.0
    assert c.daily_min_C(date(2026, 1, 10)) == -10.0  # the snap's last day is inclusive, and over
    assert c.daily_min_C(date(2026, 2, 1)) == -10.0
    assert c.daily_min_C(date(2026, 12, 31)) == -7.5
    assert c.coldest_C(date(2026, 1, 5), date(2026, 1, 15)) == -20.0
    assert c.coldest_C(date(2026, 1, 10), date(2026, 1, 20)) == -10.0


def test_an_annual_mean_and_amplitude_give_a_cold_january_and_a_warm_july():
    c = site_with("climate: {mean_C: 5, amplitude_K: 10}\n").climate
    assert c is not None and c.daily_swing_K == 0 and c.cold_snaps == ()
    assert math.isclose(c.monthly_mean_C[0], -5) and math.isclose(c.monthly_mean_C[6], 15)
    assert math.isclose(c.monthly_mean_C[3], 5, abs_tol=1e-9) and min(c.monthly_mean_C) == c.monthly_mean_C[0]
    assert site_with("climate: {mean_C: -2}\n").climate == Climate((-2.0,) * 12)


def test_no_climate_is_none():
    assert site_with("").climate is None
    assert site_with("climate:\n").climate is None


def report(expect: str):
    text = HEAD + "steps:\n  - battery_report:\n    expect: " + expect + "\n"
    return parse_text(text, "r.scenario.yaml").steps[0].expect


def test_at_risk_expectations_with_and_without_dates():
    e = report("{keys: [K1], at_risk: [K2]}")
    assert e.keys == frozenset({"K1"}) and e.at_risk == {"K2": None}
    e = report("{at_risk: {K1: 2026-01-08, K2: null}}")
    assert e.keys is None and e.at_risk == {"K1": date(2026, 1, 8), "K2": None}
    assert report("{at_risk: []}").at_risk == {}
    assert report("{keys: []}").at_risk is None  # not named: not compared


BAD = [
    pytest.param("climate: {daily_swing_K: 4}\n", 8, "either monthly_mean_C", id="no_means"),
    pytest.param("climate: {mean_C: 4, monthly_mean_C: [1,2,3,4,5,6,7,8,9,10,11,12]}\n", 8, "either monthly_mean_C", id="both_means"),
    pytest.param("climate:\n  monthly_mean_C: [1, 2, 3]\n", 9, "needs 12 values", id="eleven_months"),
    pytest.param("climate:\n  monthly_mean_C: cold\n", 9, "must be a list", id="months_not_list"),
    pytest.param("climate:\n  monthly_mean_C: [1,2,3,4,5,6,7,8,9,10,11,hot]\n", 9, "a monthly mean must be a number", id="month_text"),
    pytest.param("climate:\n  monthly_mean_C: [1,2,3,4,5,6,7,8,9,10,11,-90]\n", 9, "from -80 to 60", id="month_too_cold"),
    pytest.param(
        "climate:\n  monthly_mean_C: [1,2,3,4,5,6,7,8,9,10,11,12]\n  amplitude_K: 3\n", 10, "goes with mean_C", id="amplitude_alone"
    ),
    pytest.param("climate: {mean_C: 4, daily_swing_K: -1}\n", 8, "daily_swing_K must be from 0 to 50", id="negative_swing"),
    pytest.param("climate: {mean_C: 4, amplitude_K: .nan}\n", 8, "amplitude_K must be a finite number", id="nan_amplitude"),
    pytest.param("climate: {mean_C: 50, amplitude_K: 20}\n", 8, "from -80 to 60", id="july_too_hot"),
    pytest.param("climate: {mean_C: 4, frost: yes}\n", 8, "unknown key 'frost'", id="unknown_field"),
    pytest.param(
        "climate:\n  mean_C: 4\n  cold_snaps:\n    - {from: 2026-01-09, to: 2026-01-08, min_C: -20}\n",
        11,
        "to (2026-01-08) is before its from (2026-01-09)",
        id="snap_backwards",
    ),
    pytest.param(
        "climate:\n  mean_C: 4\n  cold_snaps:\n    - {from: 2026-01-09, to: soon, min_C: -20}\n", 11, "not an ISO date", id="snap_bad_date"
    ),
    pytest.param(
        "climate:\n  mean_C: 4\n  cold_snaps:\n    - {from: 2026-01-09, to: 2026-01-09}\n", 11, "'min_C' is missing", id="snap_no_min"
    ),
    pytest.param(
        "climate:\n  mean_C: 4\n  cold_snaps:\n    - {from: 2026-01-09, to: 2026-01-09, min_C: -200}\n",
        11,
        "from -80 to 60",
        id="snap_too_cold",
    ),
    pytest.param("climate:\n  mean_C: 4\n  cold_snaps: {from: 2026-01-09}\n", 10, "must be a list", id="snaps_not_list"),
]


@pytest.mark.parametrize(("climate", "line", "reason"), BAD)
def test_a_malformed_climate_is_refused_at_its_line(climate, line, reason):
    with pytest.raises(ScenarioError) as e:
        site_with(climate)
    assert e.value.line == line, e.value
    assert reason in e.value.reason, e.value


@pytest.mark.parametrize(
    ("expect", "reason"),
    [
        ("{at_risk: [K9]}", "unknown key 'K9'"),
        ("{at_risk: {K1: tomorrow}}", "not an ISO date"),
        ("{at_risk: {K1: 2026-01-08, K1: 2026-01-09}}", "K1 twice"),
        ("{}", "give keys, at_risk or both"),
        ("{at_risk: K1}", "must be a list"),
        ("{keys: [K1], soon: [K2]}", "unknown key 'soon'"),
    ],
)
def test_a_malformed_at_risk_expectation_is_refused_at_its_line(expect, reason):
    with pytest.raises(ScenarioError) as e:
        report(expect)
    assert e.value.line == 10 and reason in e.value.reason, e.value
