"""The fleet model: day-by-day results equal a per-opening loop, openings fail where the physics says,
failures and retries cost their charge, chunking changes nothing and memory stays bounded."""

import dataclasses
import json
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from keylock.benchmarks.fleet import reference_loop
from keylock.hw_models import drain, fleet, power
from keylock.hw_models.params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_LOCK, DEFAULT_SITE, LockParams, SiteParams
from keylock.protocol.codes import LOW_BATTERY_SOC

# Heavy users with weak cells through a cold spell: many keys fail within weeks.
WEAK_SITE = SiteParams(median_openings_per_day=12.0, initial_soc_min=0.15, initial_soc_max=0.35, mean_temperature_C=-5.0, amplitude_C=10.0)


@pytest.fixture(scope="module")
def table():
    return fleet.opening_table(fleet.site_temperature_C(np.arange(365), WEAK_SITE))


def flat_table(charge_C, min_soc=0.0, fail_charge_C=None, temperature_C=23.0):
    """A table with constant charges: the fleet takes any opening physics through its table."""
    fail = charge_C if fail_charge_C is None else fail_charge_C
    return fleet.OpeningTable(
        temperature_C=np.array([temperature_C]),
        lo_soc=np.array([min_soc]),
        min_soc=np.array([min_soc]),
        u=np.array([0.0, 1.0]),
        ok_charge_C=np.full((1, 2), charge_C),
        fail_charge_C=np.full((1, 2), fail),
    )


def test_day_by_day_equals_a_per_opening_loop(table):
    days = 90
    usage = fleet.draw_usage(40, days, WEAK_SITE, seed=3)
    temperature_C = fleet.site_temperature_C(np.arange(days), WEAK_SITE)
    r = fleet.simulate(usage, temperature_C, table, site=WEAK_SITE, warn_soc=LOW_BATTERY_SOC, keep_soc=True)
    soc, failures, retries, unable, first = reference_loop(usage, temperature_C, table, site=WEAK_SITE)
    assert failures.sum() > 100 and (failures == 0).sum() > 0  # both kinds of key are exercised
    np.testing.assert_allclose(r.soc, soc, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.failures, failures)
    np.testing.assert_array_equal(r.retries, retries)
    np.testing.assert_array_equal(r.key_days_unable, unable)
    np.testing.assert_array_equal(r.first_failure_day, first)
    np.testing.assert_array_equal(r.crossing_day, fleet.crossing_day(soc, LOW_BATTERY_SOC))


def test_min_soc_is_where_simulate_opening_starts_to_fail(table):
    """On the grid the bracket is tight; between grid temperatures the interpolation is within 0.2 %."""
    completes = power.simulate_opening(CR2032, table.min_soc, table.temperature_C, DEFAULT_LOCK).completed
    fails = power.simulate_opening(CR2032, table.lo_soc, table.temperature_C, DEFAULT_LOCK).completed
    assert completes.all() and not fails.any()
    assert np.all(table.min_soc - table.lo_soc <= 3e-4)
    off_grid_C = np.array([-13.7, -4.1, 1.3])
    day = table.on_days(off_grid_C)
    assert power.simulate_opening(CR2032, day.min_soc + 2e-3, off_grid_C, DEFAULT_LOCK).completed.all()
    assert not power.simulate_opening(CR2032, day.min_soc - 2e-3, off_grid_C, DEFAULT_LOCK).completed.any()
    # Colder needs more charge: the threshold rises as it gets colder.
    assert np.all(np.diff(table.min_soc) < 0)


@pytest.mark.parametrize(("soc", "temperature_C"), [(0.93, -11.2), (0.41, 3.9), (0.2, -3.3), (0.08, -8.8), (0.03, 0.6)])
def test_charge_per_opening_is_the_physics_at_the_key_state(table, soc, temperature_C):
    day = table.on_days(np.array([temperature_C]))[0]
    r = power.simulate_opening(CR2032, soc, temperature_C, DEFAULT_LOCK)
    assert bool(day.opens(soc)) == bool(r.completed)
    if r.completed:
        assert float(day.ok_charge(soc)) == pytest.approx(float(r.charge_C), rel=1e-2)
    else:
        assert_within_neighbours(day.fail_charge(soc), soc, temperature_C)


def assert_within_neighbours(charge_C, soc, temperature_C, width=0.02):
    """A failed opening's charge changes by steps where the failure moves from phase to phase
    (never booting, resetting in boot, in compute, under the motor): the table, interpolated,
    must lie within what the physics gives a failed opening within `width` of this charge."""
    near = np.linspace(max(soc - width, 0.0), soc + width, 41)
    r = power.simulate_opening(CR2032, near, temperature_C, DEFAULT_LOCK)
    failed = r.charge_C[~r.completed]
    assert failed.min() * 0.99 <= float(charge_C) <= failed.max() * 1.01


def test_the_table_follows_the_physics_across_the_whole_charge_range(table):
    """Completed openings within 1 %; a failed one steps in charge where its failure moves from
    phase to phase, and the table stays within the physics' neighbouring values there."""
    soc = np.linspace(0.0, 1.0, 401)[:, None]
    temperature_C = np.array([-12.1, -1.7])
    r = power.simulate_opening(CR2032, soc, temperature_C, DEFAULT_LOCK)
    day = table.on_days(temperature_C)
    for j in range(temperature_C.size):
        d, s = day[j], soc[:, 0]
        opens = d.opens(s)
        np.testing.assert_array_equal(opens, r.completed[:, j])
        err = np.abs(np.where(opens, d.ok_charge(s), d.fail_charge(s)) / r.charge_C[:, j] - 1.0)
        assert err[opens].max() < 1e-2
        # a failed opening's charge steps where its failure moves from phase to phase: the table
        # is exact (1 %) away from the steps, and within the neighbouring physics at them
        failed = r.charge_C[~opens, j]
        for k in np.flatnonzero(~opens):
            lo, hi = max(k - 8, 0), k + 9  # +-0.02 of charge on this 401-point grid
            window = r.charge_C[lo:hi, j][~opens[lo:hi]]
            got = d.fail_charge(s[k])
            assert window.min() * 0.99 <= got <= window.max() * 1.01, (s[k], got, window)
        measured = err[~opens][np.isfinite(err[~opens])]  # an empty cell gives no charge at all
        assert np.mean(measured < 1e-2) > 0.8, "the failed charge is exact away from the steps"
        assert failed.size > 0


def test_a_key_below_the_threshold_fails_every_opening_and_every_retry_costs_the_failed_charge():
    days, n = 10, 3
    usage = fleet.Usage(openings=np.full((days, 1), n), in_lock_s=np.zeros((days, 1)), soc0=np.array([0.4]))
    temperature_C = np.full(days, 23.0)
    q_ok, q_fail = 0.03, 0.012
    t = flat_table(q_ok, min_soc=0.5, fail_charge_C=q_fail)
    capacity_C = drain.capacity_C(CR2032)
    no_openings = fleet.simulate(
        fleet.Usage(np.zeros((days, 1), dtype=int), usage.in_lock_s, usage.soc0), temperature_C, t, warn_soc=LOW_BATTERY_SOC
    )
    for retries in (0, 2):
        r = fleet.simulate(usage, temperature_C, t, retry=fleet.RetryParams(retries=retries), warn_soc=LOW_BATTERY_SOC)
        assert r.failures[0] == n * days and r.retries[0] == n * days * retries
        assert r.key_days_unable[0] == days and r.first_failure_day[0] == 0
        assert r.failures_per_day.tolist() == [n] * days and r.keys_unable_per_day.tolist() == [1] * days
        spent_soc = no_openings.final_soc[0] - r.final_soc[0]
        assert spent_soc == pytest.approx(days * n * (1 + retries) * q_fail / capacity_C, rel=1e-9)
    assert r.summary()["keys_affected"] == 1 and r.summary()["failed_attempts"] == n * days * 3


def test_a_key_fails_from_the_opening_that_would_take_it_below_the_threshold():
    q_C = 0.03
    dq = q_C / drain.capacity_C(CR2032)
    # Room for exactly 4 openings at or above the threshold, then 6 failures on day 0.
    soc0 = 0.2 + 3.5 * dq
    usage = fleet.Usage(openings=np.array([[10]]), in_lock_s=np.zeros((1, 1)), soc0=np.array([soc0]))
    r = fleet.simulate(usage, np.array([23.0]), flat_table(q_C, min_soc=0.2), warn_soc=LOW_BATTERY_SOC)
    assert r.failures[0] == 6


def test_crossing_day_matches_the_closed_form_for_steady_use():
    days = 800
    usage = fleet.Usage(openings=np.full((days, 1), 6), in_lock_s=np.zeros((days, 1)), soc0=np.array([0.3]))
    temperature_C = np.full(days, 23.0)
    r = fleet.simulate(usage, temperature_C, flat_table(DEFAULT_KEY_LOAD.opening_charge_C), warn_soc=LOW_BATTERY_SOC)
    site = DEFAULT_SITE
    current_A = drain.average_current_A(advertising_fraction=site.advertising_fraction, openings_per_day=6)
    expected_day = drain.time_to_soc_s(0.15, current_A, CR2032, 23.0, soc0=0.3) / drain.SECONDS_PER_DAY
    assert r.crossing_day[0] == int(np.ceil(expected_day))
    # With the threshold at empty, openings fail only once the cell is flat, long after the warning.
    assert r.first_failure_day[0] > r.crossing_day[0] + 250


def test_a_key_reset_counts_as_a_failed_opening():
    result = SimpleNamespace(completed=np.array([True, True, False]), key_reset=np.array([False, True, False]))
    assert fleet.opening_succeeds(result).tolist() == [True, False, False]
    assert fleet.opening_succeeds(SimpleNamespace(completed=np.array([True, False]))).tolist() == [True, False]


def test_draws_do_not_depend_on_which_keys_are_drawn_together():
    whole = fleet.draw_usage(3000, 20, seed=5)
    part = fleet.draw_usage(1500, 20, seed=5, first_key=1000)
    np.testing.assert_array_equal(part.openings, whole.openings[:, 1000:2500])
    np.testing.assert_array_equal(part.in_lock_s, whole.in_lock_s[:, 1000:2500])
    np.testing.assert_array_equal(part.soc0, whole.soc0[1000:2500])


def test_results_are_identical_whatever_the_chunk_size(table):
    runs = [fleet.run_site(2600, 120, WEAK_SITE, seed=2, warn_soc=LOW_BATTERY_SOC, table=table, chunk_keys=c) for c in (2600, 1024, 777)]
    assert runs[0].summary()["failed_openings"] > 0
    for other in runs[1:]:
        for name in ("final_soc", "crossing_day", "failures", "retries", "key_days_unable", "first_failure_day"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name), err_msg=name)
        for name in ("failures_per_day", "keys_unable_per_day", "keys_at_or_below_warn", "soc_histogram"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name), err_msg=name)


def test_memory_is_bounded_by_the_chunk_not_the_site(table):
    """50,000 keys x 365 days: the draws alone would be 220 MB and the state of charge 146 MB."""
    n_keys, days = 50_000, 365
    tracemalloc.start()
    try:
        r = fleet.run_site(n_keys, days, WEAK_SITE, warn_soc=LOW_BATTERY_SOC, table=table, chunk_keys=4096)
        _, peak_B = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.final_soc.size == n_keys
    assert peak_B < 60e6, peak_B / 1e6


def test_run_site_counts_add_up_and_the_season_is_right():
    site = SiteParams(median_openings_per_day=20.0)
    r = fleet.run_site(n_keys=500, days=365, site=site, seed=1, warn_soc=LOW_BATTERY_SOC, keep_soc=True)
    assert r.soc is not None and r.soc.shape == (366, 500)
    assert r.crossing_day.shape == (500,)
    assert np.all(np.diff(r.soc, axis=0) <= 0)
    crossed = r.crossing_day >= 0
    assert crossed.any() and not crossed.all()
    assert np.all(r.soc[r.crossing_day[crossed], np.flatnonzero(crossed)] <= LOW_BATTERY_SOC)
    assert r.failures_per_day.sum() == r.failures.sum() > 0
    assert r.keys_unable_per_day.sum() == r.key_days_unable.sum()
    assert np.all(r.soc_histogram.sum(axis=1) == 500)
    np.testing.assert_array_equal(r.keys_at_or_below_warn, (r.soc <= LOW_BATTERY_SOC).sum(axis=1))
    np.testing.assert_allclose(
        r.soc_percentiles([5, 50, 95]), np.percentile(r.soc, [5, 50, 95], axis=1, method="inverted_cdf"), atol=0.005 + 1e-12
    )
    # Openings fail in winter, not in summer: the threshold follows the temperature.
    assert r.min_soc.argmin() == pytest.approx(196, abs=2)
    assert r.temperature_C.argmax() == pytest.approx(196, abs=1)
    assert r.temperature_C.min() == pytest.approx(site.mean_temperature_C - site.amplitude_C, abs=0.05)


def test_same_seed_same_site():
    a = fleet.run_site(n_keys=50, days=30, seed=7, warn_soc=LOW_BATTERY_SOC, keep_soc=True)
    b = fleet.run_site(n_keys=50, days=30, seed=7, warn_soc=LOW_BATTERY_SOC, keep_soc=True)
    assert a.soc is not None and b.soc is not None
    np.testing.assert_array_equal(a.soc, b.soc)
    c = fleet.run_site(n_keys=50, days=30, seed=8, warn_soc=LOW_BATTERY_SOC)
    assert not np.array_equal(a.final_soc, c.final_soc)


def test_retry_parameters_are_range_checked():
    with pytest.raises(ValueError, match="retries"):
        fleet.RetryParams(retries=-1)
    with pytest.raises(ValueError, match="retry_after_s"):
        fleet.RetryParams(retry_after_s=1.0)


def test_retry_defaults_are_the_stated_holder_behaviour():
    """Reference check for RetryParams: no datasheet applies; the stated, illustrative behaviour is a
    retry after "a minute or two" (issue 14, build item 5) and two retries before giving up."""
    assert 60.0 <= fleet.DEFAULT_RETRY.retry_after_s <= 120.0
    assert fleet.DEFAULT_RETRY.retries == 2
    assert "illustrative" in fleet.DEFAULT_RETRY.citation


@pytest.mark.parametrize(("lock", "fails"), [("never", True), ("always", False)])
def test_a_lock_that_never_or_always_opens(lock, fails):
    """The table's two ends: no charge opens it (release above the cell's voltage) or even an empty cell does."""
    params = (
        LockParams(brownout_V=3.0, hysteresis_V=0.2, ready_max_V=3.3)
        if lock == "never"
        else LockParams(  # microamps everywhere, a 1.6 V brown-out, the key unchecked
            brownout_V=1.6,
            hysteresis_V=0.0,
            motor_current_A=1e-6,
            mcu_active_current_A=1e-6,
            boot_current_A=1e-6,
            idle_current_A=1e-6,
            key_active_current_A=0.0,
            key_brownout_V=0.0,
        )
    )
    r = fleet.run_site(300, 20, seed=4, lock=params, warn_soc=LOW_BATTERY_SOC)
    assert np.all(r.min_soc == (fleet.NEVER_SOC if fails else 0.0))
    s = r.summary()
    if fails:
        assert s["keys_affected"] == 300 and s["failed_openings"] == r.failures_per_day.sum() > 0
    else:
        assert s["failed_openings"] == 0 and s["key_days_unable"] == 0


# A second vendor's cell: 40 % more series resistance and 10 % less capacity (illustrative spread).
WEAK_VENDOR = dataclasses.replace(
    CR2032, name="CR2032-weak", capacity_Ah=0.9 * CR2032.capacity_Ah, r0_points_ohm=tuple(1.4 * r for r in CR2032.r0_points_ohm)
)


@pytest.fixture(scope="module")
def two_vendors(table):
    temperature_C = fleet.site_temperature_C(np.arange(365), WEAK_SITE)
    return [(CR2032, table), (WEAK_VENDOR, fleet.opening_table(temperature_C, WEAK_VENDOR))]


def test_keys_with_different_cells_each_follow_their_own_cell(two_vendors):
    """Mixed in one site, each vendor's keys give exactly what they give alone, and match the loop."""
    days = 60
    usage = fleet.draw_usage(60, days, WEAK_SITE, seed=11, cell_weights=[0.5, 0.5])
    assert usage.cell is not None and 0 < usage.cell.sum() < 60
    temperature_C = fleet.site_temperature_C(np.arange(days), WEAK_SITE)
    mixed = fleet.simulate(usage, temperature_C, None, site=WEAK_SITE, warn_soc=LOW_BATTERY_SOC, keep_soc=True, cells=two_vendors)
    soc, failures, *_ = reference_loop(usage, temperature_C, None, site=WEAK_SITE, cells=two_vendors)
    assert mixed.soc is not None
    np.testing.assert_allclose(mixed.soc, soc, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mixed.failures, failures)
    for g, (battery, table) in enumerate(two_vendors):
        keys = np.flatnonzero(usage.cell == g)
        alone = fleet.Usage(usage.openings[:, keys], usage.in_lock_s[:, keys], usage.soc0[keys])
        r = fleet.simulate(alone, temperature_C, table, battery, site=WEAK_SITE, warn_soc=LOW_BATTERY_SOC)
        np.testing.assert_array_equal(mixed.final_soc[keys], r.final_soc)
        np.testing.assert_array_equal(mixed.failures[keys], r.failures)
    # The weaker cell needs more charge to open, every day, and the site reports its threshold.
    strong_min, weak_min = (t.on_days(temperature_C).min_soc for _, t in two_vendors)
    assert np.all(weak_min > strong_min + 0.01)
    np.testing.assert_array_equal(mixed.min_soc, weak_min)


def test_drawing_cells_changes_no_other_draw():
    plain = fleet.draw_usage(1500, 10, seed=2)
    mixed = fleet.draw_usage(1500, 10, seed=2, cell_weights=[0.2, 0.8])
    np.testing.assert_array_equal(plain.openings, mixed.openings)
    np.testing.assert_array_equal(plain.soc0, mixed.soc0)
    assert plain.cell is None and mixed.cell is not None
    assert 0.7 < mixed.cell.mean() < 0.9
    with pytest.raises(ValueError, match="cell_weights"):
        fleet.draw_usage(10, 10, cell_weights=[0.5, 0.6])


def test_run_site_with_vendors_is_chunk_independent(two_vendors):
    cells = [b for b, _ in two_vendors]
    a = fleet.run_site(1500, 40, WEAK_SITE, seed=6, warn_soc=LOW_BATTERY_SOC, cells=cells, cell_weights=[0.3, 0.7])
    b = fleet.run_site(1500, 40, WEAK_SITE, seed=6, warn_soc=LOW_BATTERY_SOC, cells=cells, cell_weights=[0.3, 0.7], chunk_keys=400)
    assert a.cell is not None and b.cell is not None
    np.testing.assert_array_equal(a.cell, b.cell)
    np.testing.assert_array_equal(a.final_soc, b.final_soc)
    np.testing.assert_array_equal(a.soc_histogram, b.soc_histogram)
    # The site's threshold is the more demanding vendor's.
    assert np.all(a.min_soc >= two_vendors[0][1].on_days(a.temperature_C).min_soc)


def test_the_benchmark_refuses_bad_sizes_in_one_line(capsys):
    from keylock.host.cli import main

    assert main(["bench", "fleet", "--keys", "10", "--days", "0"]) == 2
    assert capsys.readouterr().err == "keylock: --days must be within [1, 36500]; got 0\n"
    assert main(["bench", "fleet", "--keys", "20", "--days", "3", "--loop-keys", "5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["results_agree"] is True and r["sizes"][0]["keys"] == 20 and r["sizes"][0]["peak_rss_MB"] > 0


def test_a_site_of_the_three_cited_cr2032_vendors_fails_where_its_cells_do():
    """Vendors sampled in the fleet (params.VENDORS: Energizer, Panasonic and a budget cell
    whose R0 rises early, after TI SWRA349's spread between vendors): each key draws a vendor,
    and the budget cell's keys, which need more charge to open, fail more than the others."""
    from keylock.hw_models.params import VENDORS

    cells = list(VENDORS.values())
    r = fleet.run_site(3000, 365, seed=5, cells=cells, warn_soc=LOW_BATTERY_SOC)
    assert r.cell is not None and set(np.unique(r.cell)) == {0, 1, 2}  # every vendor drawn
    budget = [c.name for c in cells].index("CR2032-BUDGET")
    failing = [(r.failures[r.cell == v] > 0).mean() for v in range(len(cells))]
    assert failing[budget] > max(f for v, f in enumerate(failing) if v != budget)
