"""The site simulation's runner (host/simulate/run.py, plan.py, outputs.py) on a small site
built in Python: what it plans from the seed, what the emulated site then does, and what the
outputs say about it."""

import csv
import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from keylock.host.scenario.model import Climate, ColdSnap, Key, Lock
from keylock.host.simulate import outputs, plan, record
from keylock.host.simulate import run as site_run
from keylock.host.simulate.model import Event, SiteFile, SiteKey, SiteLock, Usage, Validation

OUTDOOR = Climate((-4, -4, -1, 4, 10, 15, 17, 16, 11, 6, 1, -3), 8.0, (ColdSnap(date(2026, 12, 9), date(2026, 12, 10), -22.0),))


def small_site(days=10, seed=1, **changes) -> SiteFile:
    """6 keys, 3 locks (2 indoor cylinders, 1 outdoor padlock) from Monday 2026-12-07; K3 lost on
    day 2, blocked 4 h later, found on day 7; K4 left in L1 overnight on day 1; L3 warmed on day 3."""
    locks = (
        SiteLock(Lock("L1", group="depot"), climate="indoor"),
        SiteLock(Lock("L2", group="depot"), climate="indoor"),
        SiteLock(Lock("L3", group="yard", kind="padlock"), climate="outdoor"),
    )
    keys = tuple(
        SiteKey(Key(f"K{i}", holder=f"Holder {i}", soc=0.3 + 0.1 * i), groups=("depot", "yard") if i % 2 else ("depot",))
        for i in range(1, 7)
    )
    spec = SiteFile(
        "small site",
        keys,
        locks,
        climates={"outdoor": OUTDOOR, "indoor": Climate((18.0,) * 12)},
        usage=(Usage("depot", 3.0), Usage("yard", 1.0)),
        validation=Validation(every_days=3, forget_share=0.0),
        events=(
            Event("lost", 2, key="K3", until_day=7, tries_per_day=4.0),
            Event("left_in_lock", 1, key="K4", lock="L1", at_min=16 * 60, hours=14.0),
            Event("warmed", 3, key="K1", lock="L3", to_C=60.0),
        ),
        seed=seed,
        start=datetime(2026, 12, 6, 23, 0, tzinfo=UTC),  # midnight in Stockholm
        timezone="Europe/Stockholm",
        days=days,
    )
    return dataclasses.replace(spec, **changes)


@pytest.fixture(scope="module")
def ten_days():
    return site_run.simulate(small_site())


# --- the plan ------------------------------------------------------------------------------------


def test_a_key_plan_does_not_depend_on_the_other_keys():
    spec = small_site()
    whole = plan.Planner(spec, [k.key.id for k in spec.keys], ["L1", "L2", "L3"])
    alone = plan.Planner(spec, ["K5"], ["L1", "L2", "L3"])
    for day in range(5):
        mine = [a for a in whole.day(day) if a.name == "K5"]
        assert mine == [a for a in alone.day(day) if a.name == "K5"]
        assert any(a.kind == "open" for a in mine) or day in (5, 6)


def test_another_seed_plans_other_openings():
    spec = small_site()
    keys = [k.key.id for k in spec.keys]
    first = [a for a in plan.Planner(spec, keys, []).day(0) if a.kind == "open"]
    other = [a for a in plan.Planner(dataclasses.replace(spec, seed=2), keys, []).day(0) if a.kind == "open"]
    assert first != other


def test_no_holder_openings_on_the_weekend_and_none_while_the_key_is_away():
    spec = small_site()
    p = plan.Planner(spec, [k.key.id for k in spec.keys], ["L1", "L2", "L3"])
    days = {d: p.day(d) for d in range(7)}
    assert not [a for d in (5, 6) for a in days[d] if a.kind == "open" and a.by == "holder"]  # Sat, Sun
    lost_from, found = p.cal.at_s(2, 9 * 60), p.cal.at_s(7, 9 * 60)
    k3 = [a for d in range(7) for a in days[d] if a.name == "K3" and a.kind == "open"]
    assert all(a.by == "finder" for a in k3 if lost_from <= a.time_s < found)
    assert any(a.by == "finder" for a in k3)


def test_temperature_follows_the_climate_with_its_minimum_at_three():
    spec = small_site()
    cal = plan.Calendar(spec)
    day_C = [plan.temperature_C(OUTDOOR, cal, 0, h) for h in range(24)]
    assert min(range(24), key=lambda h: day_C[h]) == 3 and max(range(24), key=lambda h: day_C[h]) == 15
    assert day_C[3] == pytest.approx(OUTDOOR.monthly_mean_C[11] - 4.0)
    assert plan.temperature_C(OUTDOOR, cal, 2, 3) == pytest.approx(-22.0)  # the cold snap's morning


# --- the run -------------------------------------------------------------------------------------


def test_the_lost_key_opens_until_the_blocklist_reaches_the_lock_and_never_after(ten_days):
    run = ten_days
    (block,) = run.blocks
    assert block.key == "K3" and block.unblocked_s is not None
    arrived = {}
    for a in run.arrivals:
        arrived.setdefault(a.lock, a.time_s)
    finder = [a for a in run.attempts if a.by == "finder"]
    assert finder
    for a in finder:
        if a.lock in arrived and a.time_s >= arrived[a.lock]:
            assert (a.result, a.reason) == ("denied", "blocked")
    # the blocklist travels only on keys validated after the block
    for a in run.arrivals:
        carrier = [v for v in run.validations if v.key == a.via_key and v.error is None and block.time_s <= v.time_s <= a.time_s]
        assert carrier


def test_every_attempt_is_in_the_servers_audit_with_its_arrival_after_it(ten_days):
    run = ten_days
    lost = outputs.lost_keys(run)
    rows = [r for lock in lost[0]["locks"] for r in lock["attempts"]]
    assert len(rows) == sum(1 for a in run.attempts if a.by == "finder")  # the holder never used it while lost
    for r in rows:
        if r["uploaded_at_s"] is not None:
            assert r["uploaded_at_s"] >= int(r["time_s"]) and r["audit_lag_h"] >= 0
    for row in run.audit:
        assert row.uploaded_at_s >= row.time_s


def test_the_key_left_in_the_lock_and_the_warmed_padlock_are_recorded(ten_days):
    run = ten_days
    ((since, to, key, lock),) = run.left_in_lock
    assert (key, lock) == ("K4", "L1") and to - since == pytest.approx(14 * 3600)
    ((t, lock, body_C),) = run.warmed
    assert lock == "L3" and body_C == 60.0
    warm = [s for s in run.lock_samples if s.lock == "L3" and s.time_s == t]
    assert warm and warm[0].body_C == pytest.approx(60.0)


def test_the_same_seed_gives_the_same_run():
    a = site_run.simulate(small_site(days=3))
    b = site_run.simulate(small_site(days=3))
    assert a.attempts == b.attempts and a.validations == b.validations and a.key_samples == b.key_samples


def test_lapses_run_from_a_credentials_end_to_the_next_validation():
    v = [
        record.ValidationRecord(0, "K1", None, 100),
        record.ValidationRecord(50, "K1", None, 150),
        record.ValidationRecord(200, "K1", None, 300),
        record.ValidationRecord(210, "K2", "blocked", None),
    ]
    assert site_run.lapses(v, ["K1", "K2"], 0, 400) == [record.Lapse("K1", 150, 200), record.Lapse("K1", 300, None)]
    assert site_run.lapses(v, ["K1"], 0, 250) == [record.Lapse("K1", 150, 200)]


def test_a_forgetful_holder_lapses_and_the_others_do_not():
    spec = small_site(days=16, validation=Validation(every_days=7, forget_share=1.0, late_days=2))
    run = site_run.simulate(spec)
    assert {lap.key for lap in run.lapses} >= {"K1", "K2", "K4", "K5", "K6"}
    expired = [a for a in run.attempts if a.reason == "validity_expired"]
    assert expired and all(any(lap.key == a.key and lap.from_s <= a.time_s for lap in run.lapses) for a in expired)
    # The key refuses by its own clock and never talks to the lock: no lock records it, so no
    # audit of it can reach the server (the report says so rather than "not yet").
    assert not any(a.at_lock for a in expired) and all(a.at_lock for a in run.attempts if a.result == "granted")


# --- the outputs ---------------------------------------------------------------------------------


def test_summary_and_events_agree_with_the_run(ten_days, tmp_path):
    run = ten_days
    data = outputs.write_summary(run, tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text()) == data
    assert data["openings"]["attempts"] == len(run.attempts)
    assert data["openings"]["granted"] + sum(data["openings"]["denied"].values()) == len(run.attempts)
    assert data["lost_keys"][0]["key"] == "K3"
    n = outputs.write_events(run, tmp_path / "events.csv")
    rows = list(csv.DictReader((tmp_path / "events.csv").open()))
    assert len(rows) == n and tuple(rows[0]) == outputs.EVENT_COLUMNS
    assert sum(1 for r in rows if r["event"] == "attempt") == len(run.attempts)
    times = [float(r["time_s"]) for r in rows]
    assert times == sorted(times)


def test_weekly_reports_book_jobs_and_the_technician_changes_the_cells():
    """K1 starts flat (10 %: openings fail below about 19 % even at 20 degC). K2 opens on the
    first Monday's -7 degC but not in Wednesday's -22 degC cold snap: the server predicts it
    (battery_at_risk), so the report books it into Tuesday 13:00, the first window that ends in
    time; K1 is urgent. Both cells are changed and the server told, and neither is listed again."""
    from keylock.host.server import warning

    between = (warning.failing_permille("CR2032", -7.0) + warning.failing_permille("CR2032", -22.0)) / 2000
    keys = list(small_site().keys)
    keys[0] = dataclasses.replace(keys[0], key=dataclasses.replace(keys[0].key, soc=0.10))
    keys[1] = dataclasses.replace(keys[1], key=dataclasses.replace(keys[1].key, soc=between))
    validation = Validation(every_days=3, from_min=6 * 60, to_min=6 * 60 + 30)  # before the 07:00 report
    run = site_run.simulate(small_site(days=9, keys=tuple(keys), events=(), validation=validation))
    first = run.weekly[0]
    assert first.monday == date(2026, 12, 7)
    units = {u.key: u for u in first.units}
    assert units["K1"].flat and not units["K2"].flat
    assert units["K1"].fails_on is None and units["K2"].fails_on == date(2026, 12, 9)  # the cold snap's first morning
    jobs = {j.key: j for j in first.jobs}
    assert jobs["K1"].urgent and jobs["K1"].why == "flat"
    assert not jobs["K2"].urgent and jobs["K2"].start == datetime(2026, 12, 8, 13, 0)
    done = {j.key: j for j in run.jobs_done}
    assert set(done) == {"K1", "K2"} and done["K1"].urgent and not done["K2"].urgent
    assert not {"K1", "K2"} & {u.key for u in run.weekly[1].units}
    after = [a for a in run.attempts if a.key == "K1" and a.time_s > done["K1"].time_s]
    assert after and all(a.result == "granted" for a in after)


def test_progress_is_a_bar_on_a_terminal_and_a_line_a_tenth_in_a_log():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    spec = small_site(days=20)
    start = plan.Calendar(spec).at_s(0, 0)
    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        progress = site_run.Progress(spec, 20, stream)
        for day in range(1, 21):
            progress(start + day * plan.DAY_S, 10 * day)
    lines = log.getvalue().splitlines()
    # the first day, then each tenth to the end
    assert len(lines) == 11 and "\r" not in log.getvalue() and lines[-1].startswith("[" + "#" * 30 + "] day 20/20: 200 openings")
    assert tty.getvalue().count("\r") == 20 and tty.getvalue().endswith("\n") and tty.getvalue().count("\n") == 1
