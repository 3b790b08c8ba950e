# The low-battery threshold the server signs into a credential (issue 14: a warning that knows
# the weather) and the battery report's keys at risk. The threshold is checked against the
# physics itself (hw_models.power.simulate_opening, called here directly): a key at it opens
# at the cold temperature, one 1 % below does not.
from datetime import date

import numpy as np
import pytest
from server_testkit import DAY_S, START_S, YEAR_S

from keylock.host.server import AccessServer, Climate, ColdSnap
from keylock.host.server import warning as w
from keylock.hw_models import CR2032, CR2450, power

JANUARY_5 = date(2026, 1, 5)  # START_S's day (UTC, the site's zone)
MILD = (8.0,) * 12  # every month's mean 8 degC: with a 4 K swing, dawn at 6 degC


def completes(cell, permille, temperature_C):
    r = power.simulate_opening(cell, np.asarray(permille, dtype=float) / 1000, temperature_C)
    return r.completed & ~np.asarray(getattr(r, "key_reset", np.zeros_like(r.completed)), dtype=bool)


@pytest.mark.parametrize(("cell", "temperature_C"), [(CR2032, -20.0), (CR2032, 0.0), (CR2450, -20.0)])
def test_a_key_at_the_threshold_opens_in_the_cold_and_one_percent_below_does_not(cell, temperature_C):
    failing = w.failing_permille(cell.name, temperature_C)
    warn = w.warn_permille(cell.name, temperature_C)
    assert 50 < failing < 400 and warn == failing + w.MARGIN_PERMILLE
    assert completes(cell, [warn, failing, failing - 1, warn - 10], temperature_C).tolist() == [True, True, False, False]


def test_openings_fail_below_the_threshold_and_open_above_it_on_the_whole_grid():
    """The search assumes a fuller cell never fails where an emptier one opens: check it."""
    grid = np.arange(0, 1001, 10)
    ok = completes(CR2032, grid, -20.0)
    failing = w.failing_permille("CR2032", -20.0)
    assert (ok == (grid >= failing)).all()


def test_colder_is_higher_and_a_cell_beyond_its_rating_is_modelled_at_its_limit():
    assert w.failing_permille("CR2032", 20.0) < w.failing_permille("CR2032", 0.0) < w.failing_permille("CR2032", -20.0)
    assert w.failing_permille("CR2032", -45.0) == w.failing_permille("CR2032", CR2032.min_temperature_C)


@pytest.fixture
def granted(site):
    site.grant("K1", locks=["L1"])
    return site


def test_without_a_climate_or_a_temperature_the_key_warns_at_15_percent_only(granted):
    assert granted.validate("K1", soc=0.5).credential["warn_permille"] == 0
    assert granted.key_info("K1").warn_permille == 0


def test_without_a_climate_the_key_own_temperature_counts(granted):
    cred = granted.validate("K1", soc=0.5, temperature_C=-20).credential
    assert cred["warn_permille"] == w.warn_permille("CR2032", -20.0) == granted.key_info("K1").warn_permille


def test_the_coldest_morning_before_the_credential_expires_sets_the_threshold(granted, clock):
    # A snap 9 days ahead is within the 10-day validity; a snap 11 days ahead is not.
    inside = Climate(MILD, 4.0, (ColdSnap(date(2026, 1, 14), date(2026, 1, 14), -20.0),))
    granted.set_climate(inside)
    assert granted.climate() == inside
    assert granted.validate("K1", temperature_C=20).credential["warn_permille"] == w.warn_permille("CR2032", -20.0)
    granted.set_climate(Climate(MILD, 4.0, (ColdSnap(date(2026, 1, 16), date(2026, 1, 20), -20.0),)))
    assert granted.validate("K1", temperature_C=20).credential["warn_permille"] == w.warn_permille("CR2032", 6.0)  # 8 - 4/2
    # ... until the key is validated on a day from which the snap is within reach
    clock.advance(2 * DAY_S)
    assert granted.validate("K1", temperature_C=20).credential["warn_permille"] == w.warn_permille("CR2032", -20.0)
    # The key's own temperature, when colder than the climate says, wins.
    granted.set_climate(Climate(MILD))
    assert granted.validate("K1", temperature_C=-10).credential["warn_permille"] == w.warn_permille("CR2032", -10.0)
    granted.set_climate(None)
    assert granted.climate() is None and granted.validate("K1").credential["warn_permille"] == 0


def test_each_key_is_computed_for_its_own_cell(site):
    site.add_key("K2", "Anna Berg", battery="CR2450")
    for key in ("K1", "K2"):
        site.grant(key, locks=["L1"])
    site.set_climate(Climate((-20.0,) * 12))
    assert site.validate("K1").credential["warn_permille"] == w.warn_permille("CR2032", -20.0)
    assert site.validate("K2").credential["warn_permille"] == w.warn_permille("CR2450", -20.0)
    assert w.warn_permille("CR2450", -20.0) != w.warn_permille("CR2032", -20.0)
    assert site.key_info("K2").battery == "CR2450"


def test_bad_climates_batteries_and_temperatures_are_refused(site):
    with pytest.raises(ValueError, match="12 monthly"):
        Climate((1.0,) * 11)
    with pytest.raises(ValueError, match="same or a later date"):
        Climate(MILD, 0, (ColdSnap(date(2026, 1, 2), date(2026, 1, 1), -5),))
    with pytest.raises(ValueError, match="daily_swing_K"):
        Climate(MILD, -1)
    with pytest.raises(ValueError, match="a climate is"):
        site.set_climate({"monthly_mean_C": MILD})
    with pytest.raises(ValueError, match="unknown battery"):
        site.add_key("K9", "Anna Berg", battery="AA")
    with pytest.raises(ValueError, match="temperature"):
        site.validate("K1", temperature_C=float("nan"))
    assert site.names("keys") == ["K1"] and site.climate() is None


def test_the_climate_is_kept_in_the_database(db_path, clock, site):
    c = Climate(MILD, 6.5, (ColdSnap(date(2026, 2, 1), date(2026, 2, 3), -25.5),))
    site.set_climate(c)
    with AccessServer.open(db_path, now_s=clock) as again:
        assert again.climate() == c


# --- the battery report's keys at risk ------------------------------------------------------


@pytest.fixture
def fleet(site):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    for name in ("K2", "K3"):
        site.add_key(name, "Bo")
    return site


def test_a_cold_snap_within_the_horizon_puts_a_key_at_risk_on_its_first_morning(fleet):
    fleet.set_climate(Climate(MILD, 4.0, (ColdSnap(date(2026, 1, 8), date(2026, 1, 9), -20.0),)))
    fleet.battery_reading("K1", 0.23)  # fails at -20 (about 23.6 %), not at 6 degC (about 19.7 %)
    fleet.battery_reading("K2", 0.60)  # fine in any weather
    fleet.battery_reading("K3", 0.12)  # at or below 15 %: the report's, not at risk
    assert fleet.battery_report() == ["K3"]
    (risk,) = fleet.battery_at_risk()
    assert (risk.key, risk.fails_on, risk.failing_permille) == ("K1", date(2026, 1, 8), w.failing_permille("CR2032", -20.0))
    assert 0.22 < risk.soc < 0.23  # three days of idle drain
    assert fleet.battery_at_risk(horizon_days=2) == []  # the snap is 3 days ahead


def test_a_snap_beyond_the_horizon_is_not_a_risk_yet(fleet):
    fleet.set_climate(Climate(MILD, 4.0, (ColdSnap(date(2026, 1, 20), date(2026, 1, 21), -20.0),)))
    fleet.battery_reading("K1", 0.23)  # still above the 6 degC failing charge after 15 days of idle drain
    assert fleet.battery_at_risk() == []  # 15 days ahead, the horizon is 14
    assert [r.fails_on for r in fleet.battery_at_risk(horizon_days=15)] == [date(2026, 1, 20)]


def test_a_key_draining_fast_is_at_risk_when_its_projection_crosses(fleet, clock):
    fleet.set_climate(Climate(MILD, 4.0))  # dawn at 6 degC every day
    failing = w.failing_permille("CR2032", 6.0)
    fleet.battery_reading("K1", 0.30)
    fleet.battery_reading("K2", 0.30)
    clock.advance(5 * DAY_S)
    fleet.battery_reading("K1", 0.25)  # 1 % a day, observed
    fleet.battery_reading("K2", 0.299)  # idle: the physics' idle drain, about 0.13 % a day
    (risk,) = fleet.battery_at_risk()
    rate_per_s = (0.30 - 0.25) / (5 * DAY_S)
    days = next(d for d in range(15) if (0.25 - rate_per_s * d * DAY_S) * 1000 < failing)  # the report's day 0 is Jan 10
    assert risk.key == "K1" and risk.fails_on == date(2026, 1, 10 + days)
    assert risk.soc * 1000 < failing <= risk.soc * 1000 + 10 + 1e-6


def test_without_a_climate_the_reported_temperature_is_used(fleet):
    fleet.grant("K1", locks=["L1"])
    fleet.validate("K1", soc=0.22, temperature_C=-20)  # a key read out in the cold
    fleet.battery_reading("K2", 0.22)  # no temperature: 20 degC, where 22 % opens
    assert [(r.key, r.fails_on) for r in fleet.battery_at_risk()] == [("K1", JANUARY_5)]


@pytest.mark.parametrize("horizon", [-1, 367, 1.5, True, "14"])
def test_a_bad_horizon_is_refused(fleet, horizon):
    with pytest.raises(ValueError, match="horizon_days"):
        fleet.battery_at_risk(horizon_days=horizon)
