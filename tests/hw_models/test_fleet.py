"""The fleet model: vectorised result equals a plain loop, and crossing days are right."""

import numpy as np
import pytest

from keylock.benchmarks.fleet import reference_loop
from keylock.hw_models import drain, fleet
from keylock.hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_SITE, SiteParams
from keylock.protocol.codes import LOW_BATTERY_SOC


def test_vectorised_equals_per_key_loop():
    usage = fleet.draw_usage(40, 90, DEFAULT_SITE, seed=3)
    temperature_C = fleet.site_temperature_C(np.arange(90))
    q_C = fleet.opening_charge_C(temperature_C)
    soc = fleet.simulate(usage, temperature_C, charge_per_opening_C=q_C)
    np.testing.assert_allclose(soc, reference_loop(usage, temperature_C, q_C), rtol=0, atol=1e-12)


def test_crossing_day_matches_the_closed_form_for_steady_use():
    days = 800
    usage = fleet.Usage(openings=np.full((days, 1), 6), in_lock_s=np.zeros((days, 1)), soc0=np.array([0.3]))
    temperature_C = np.full(days, 23.0)
    q_C = np.full(days, DEFAULT_KEY_LOAD.opening_charge_C)
    soc = fleet.simulate(usage, temperature_C, charge_per_opening_C=q_C)
    site = DEFAULT_SITE
    current_A = drain.average_current_A(advertising_fraction=site.advertising_fraction, openings_per_day=6)
    expected_day = drain.time_to_soc_s(0.15, current_A, CR2032, 23.0, soc0=0.3) / drain.SECONDS_PER_DAY
    assert fleet.crossing_day(soc, LOW_BATTERY_SOC)[0] == int(np.ceil(expected_day))


def test_run_site_shapes_and_season():
    site = SiteParams(median_openings_per_day=20.0)
    r = fleet.run_site(n_keys=500, days=365, site=site, seed=1, warn_soc=LOW_BATTERY_SOC)
    assert r.soc.shape == (366, 500)
    assert r.crossing_day.shape == (500,)
    assert np.all(np.diff(r.soc, axis=0) <= 0)
    crossed = r.crossing_day >= 0
    assert crossed.any() and not crossed.all()
    assert np.all(r.soc[r.crossing_day[crossed], np.flatnonzero(crossed)] <= LOW_BATTERY_SOC)
    # Coldest around new year, warmest in July.
    assert r.temperature_C.argmax() == pytest.approx(196, abs=1)
    assert r.temperature_C.min() == pytest.approx(site.mean_temperature_C - site.amplitude_C, abs=0.05)


def test_same_seed_same_site():
    a = fleet.run_site(n_keys=50, days=30, seed=7, warn_soc=LOW_BATTERY_SOC)
    b = fleet.run_site(n_keys=50, days=30, seed=7, warn_soc=LOW_BATTERY_SOC)
    np.testing.assert_array_equal(a.soc, b.soc)
