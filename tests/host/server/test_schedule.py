# Schedules: local time in, UTC rights out, with the site's UTC offset at issue time.
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from server_testkit import START_S, YEAR_S, Clock, lock_admits

from keylock.firmware import codec
from keylock.host.server import AccessServer, parse_schedule
from keylock.host.server.schedule import ALL_DAYS, DAY_MIN, DAY_NAMES, WEEK_MIN, Schedule, allows, utc_windows

MON, TUE, WED, THU, FRI, SAT, SUN = (
    codec.DAY_MON,
    codec.DAY_TUE,
    codec.DAY_WED,
    codec.DAY_THU,
    codec.DAY_FRI,
    codec.DAY_SAT,
    codec.DAY_SUN,
)
WORKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00", "to": "16:00"}


def utc_s(*args):
    return int(datetime(*args, tzinfo=UTC).timestamp())


def site_in(tmp_path, tz, now_s):
    server = AccessServer.create(str(tmp_path / f"{tz.replace('/', '_')}-{now_s}.db"), now_s=Clock(now_s), timezone=tz)
    server.add_holder("H", "C", now_s + YEAR_S)
    server.add_key("K", "H")
    server.add_lock("L")
    return server


def test_parse_the_scenario_form():
    assert parse_schedule(WORKDAYS) == Schedule(MON | TUE | WED | THU | FRI, 420, 960)
    assert parse_schedule(None) == Schedule(ALL_DAYS, 0, DAY_MIN)
    assert parse_schedule({"days": ["SAT"]}) == Schedule(SAT, 0, DAY_MIN)
    assert parse_schedule({"from": "22:00", "to": "06:00"}) == Schedule(ALL_DAYS, 1320, 360)
    assert parse_schedule({"days": ["sun"], "from": "23:59", "to": "24:00"}) == Schedule(SUN, 1439, 1440)


@pytest.mark.parametrize(
    "bad",
    [
        {"days": ["mon"], "from": "7:00", "to": "16:00"},
        {"days": ["mon"], "from": "07:60", "to": "16:00"},
        {"days": ["mon"], "from": "24:00", "to": "16:00"},
        {"days": ["mon"], "from": "07:00", "to": "24:01"},
        {"days": ["mon"], "from": "07:00", "to": "25:00"},
        {"days": ["mon"], "from": "07:00", "to": 960},  # YAML 1.1 reads unquoted 16:00 as 960
        {"days": ["mon"], "from": "07:00", "to": "07:00"},
        {"days": ["monday"]},
        {"days": []},
        {"days": "mon"},
        {"days": ["mon"], "start": "07:00"},
        "mon 07:00-16:00",
    ],
)
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        parse_schedule(bad)


def test_utc_site_keeps_the_window():
    assert utc_windows([parse_schedule(WORKDAYS)], 0) == [(MON | TUE | WED | THU | FRI, 420, 960)]


def test_no_schedule_is_all_days_all_day_in_any_zone():
    assert utc_windows([parse_schedule(None)], 120) == [(ALL_DAYS, 0, DAY_MIN)]


def test_stockholm_winter_and_summer(tmp_path):
    # Stockholm is UTC+1 in January and UTC+2 in July: 07:00-16:00 local is 06-15 or 05-14 UTC.
    winter = site_in(tmp_path, "Europe/Stockholm", START_S)
    winter.grant("K", locks=["L"], schedule=WORKDAYS)
    assert [(r["days"], r["from_min"], r["to_min"]) for r in winter.validate("K").credential["rights"]] == [
        (MON | TUE | WED | THU | FRI, 360, 900)
    ]
    winter.close()
    summer = site_in(tmp_path, "Europe/Stockholm", utc_s(2026, 7, 6, 8))
    summer.grant("K", locks=["L"], schedule=WORKDAYS)
    assert [(r["days"], r["from_min"], r["to_min"]) for r in summer.validate("K").credential["rights"]] == [
        (MON | TUE | WED | THU | FRI, 300, 840)
    ]
    summer.close()


def test_a_window_that_crosses_utc_midnight_becomes_two_rights(tmp_path):
    # Tokyo is UTC+9: Monday 07:00-16:00 local is Sunday 22:00-24:00 and Monday 00:00-07:00 UTC.
    server = site_in(tmp_path, "Asia/Tokyo", START_S)
    server.grant("K", locks=["L"], schedule={"days": ["mon"], "from": "07:00", "to": "16:00"})
    cred = server.validate("K").credential
    assert [(r["days"], r["from_min"], r["to_min"]) for r in cred["rights"]] == [(MON, 0, 420), (SUN, 1320, 1440)]
    p = server.provision_lock("L")
    lock_id, groups = p["device_id"], p["groups"]
    assert lock_admits(cred, lock_id, groups, utc_s(2026, 1, 4, 22, 0))  # Monday 07:00 in Tokyo
    assert lock_admits(cred, lock_id, groups, utc_s(2026, 1, 5, 6, 59))  # Monday 15:59
    assert not lock_admits(cred, lock_id, groups, utc_s(2026, 1, 5, 7, 0))  # Monday 16:00
    assert not lock_admits(cred, lock_id, groups, utc_s(2026, 1, 4, 21, 59))  # Monday 06:59
    server.close()


def test_a_west_of_utc_window_shifts_forward_past_sunday_into_monday(tmp_path):
    # New York is UTC-5 in January: Sunday 20:00-23:00 local is Monday 01:00-04:00 UTC.
    server = site_in(tmp_path, "America/New_York", START_S)
    server.grant("K", locks=["L"], schedule={"days": ["sun"], "from": "20:00", "to": "23:00"})
    assert [(r["days"], r["from_min"], r["to_min"]) for r in server.validate("K").credential["rights"]] == [(MON, 60, 240)]
    server.close()


def test_a_night_shift_crossing_local_midnight():
    # Friday 22:00 to Saturday 06:00 local on a UTC site.
    assert utc_windows([parse_schedule({"days": ["fri"], "from": "22:00", "to": "06:00"})], 0) == [(FRI, 1320, 1440), (SAT, 0, 360)]


def test_windows_of_one_target_are_merged():
    morning = parse_schedule({"days": ["mon"], "from": "07:00", "to": "12:00"})
    afternoon = parse_schedule({"days": ["mon"], "from": "12:00", "to": "16:00"})
    assert utc_windows([morning, afternoon], 0) == [(MON, 420, 960)]


schedules = st.builds(
    Schedule,
    days=st.integers(1, ALL_DAYS),
    from_min=st.integers(0, DAY_MIN - 1),
    to_min=st.integers(1, DAY_MIN),
).filter(lambda s: s.from_min != s.to_min)


@given(st.lists(schedules, min_size=1, max_size=4), st.integers(-14 * 60, 14 * 60))
def test_conversion_covers_exactly_the_shifted_local_minutes(scheds, offset_min):
    """Round trip: a UTC minute is allowed by the rights exactly when the local minute
    (UTC + offset) is inside one of the local windows; no right is redundant."""
    local = set()
    for sched in scheds:
        for start, end in sched.local_intervals():
            local.update(m % WEEK_MIN for m in range(start, end))
    windows = utc_windows(scheds, offset_min)
    covered = {m for m in range(WEEK_MIN) if allows(windows, m)}
    assert covered == {(m - offset_min) % WEEK_MIN for m in local}
    assert all(0 <= lo < hi <= DAY_MIN and 0 < days <= ALL_DAYS for days, lo, hi in windows)
    assert len(set((lo, hi) for _, lo, hi in windows)) == len(windows)  # one row per window


@given(st.sampled_from(DAY_NAMES), st.integers(0, 23), st.integers(0, 59))
def test_times_parse_to_minutes(day, hours, minutes):
    sched = parse_schedule({"days": [day], "from": f"{hours:02d}:{minutes:02d}", "to": "24:00"})
    assert sched.from_min == hours * 60 + minutes


def test_the_scenario_parser_form_is_accepted():
    # host.scenario gives schedules as day names and minutes: the same Schedule results.
    from types import SimpleNamespace

    parsed = SimpleNamespace(days=("mon", "tue", "wed", "thu", "fri"), from_min=420, to_min=960)
    assert parse_schedule(parsed) == parse_schedule(WORKDAYS)
    for bad in (
        SimpleNamespace(days=("mon",), from_min=420, to_min=1441),
        SimpleNamespace(days=("mon",), from_min=-1, to_min=60),
        SimpleNamespace(days=(), from_min=0, to_min=60),
        SimpleNamespace(days=("mon",), from_min=60, to_min=60),
    ):
        with pytest.raises(ValueError):
            parse_schedule(bad)
