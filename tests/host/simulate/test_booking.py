"""The service-window booking rules on their edges (the seed's: first choice Tue 13-16, Thu 8-12,
Fri 12-15; otherwise Mon 10-11, Wed 14-15; two jobs an hour; booked by 14:00 the day before)."""

from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keylock.host.simulate.booking import (
    DAY_NAMES,
    WHY_FAILS_FIRST,
    WHY_FLAT,
    WHY_LOW,
    WHY_NO_WINDOW,
    Bookings,
    book,
    booking_deadline,
    window_label,
    window_slot_starts,
)
from keylock.host.simulate.model import DEFAULT_WINDOWS, Service, Window
from keylock.host.simulate.record import Job, Unit

MONDAY = datetime(2026, 12, 7)  # a Monday
REPORT = MONDAY.replace(hour=7)  # the service's report time
TUE, WED, THU, FRI = (MONDAY + timedelta(days=n) for n in (1, 2, 3, 4))
SERVICE = Service()


def low(key, soc=0.10):
    return Unit(key, f"holder of {key}", soc, flat=False)


def lows(n, soc=0.10):
    return [low(f"k{i:02d}", soc) for i in range(n)]


def starts(jobs):
    return [job.start for job in jobs]


@pytest.mark.parametrize(
    "now, first_start",
    [
        pytest.param(MONDAY.replace(hour=14), TUE.replace(hour=13), id="14:00:00 the day before is in time"),
        pytest.param(MONDAY.replace(hour=14, second=1), THU.replace(hour=8), id="14:00:01 is too late"),
        pytest.param(MONDAY.replace(hour=15), THU.replace(hour=8), id="a report on Monday after 14:00 cannot book Tuesday"),
        pytest.param(TUE.replace(hour=13), THU.replace(hour=8), id="a slot that is now is long past its deadline"),
    ],
)
def test_booked_by_14_the_day_before(now, first_start):
    (job,) = book([low("k")], now, SERVICE, Bookings())
    assert job == Job("k", first_start, urgent=False, why=WHY_LOW, window=window_label(_window_of(first_start)))


def _window_of(start):
    return next(w for w in DEFAULT_WINDOWS if w.day == DAY_NAMES[start.weekday()] and w.from_min <= start.hour * 60 < w.to_min)


def test_wednesday_14_books_thursday_and_14_01_does_not():
    assert starts(book([low("k")], WED.replace(hour=14), SERVICE, Bookings())) == [THU.replace(hour=8)]
    assert starts(book([low("k")], WED.replace(hour=14, minute=1), SERVICE, Bookings())) == [FRI.replace(hour=12)]


def test_the_third_job_in_an_hour_goes_to_the_next_slot():
    jobs = book(lows(5), REPORT, SERVICE, Bookings())
    assert starts(jobs) == [TUE.replace(hour=13)] * 2 + [TUE.replace(hour=14)] * 2 + [TUE.replace(hour=15)]
    assert {job.window for job in jobs} == {"tue 13-16"}


def test_jobs_per_hour_is_the_services():
    jobs = book(lows(4), REPORT, Service(jobs_per_hour=3), Bookings())
    assert starts(jobs) == [TUE.replace(hour=13)] * 3 + [TUE.replace(hour=14)]


def test_first_choice_full_goes_to_second_choice_then_next_week():
    # This week's first choice: tue 13-16 (3 h), thu 8-12 (4 h), fri 12-15 (3 h): 20 jobs. Monday
    # 10-11 is past its deadline (Sunday 14:00), so Wednesday 14-15 takes two more, and the 23rd
    # waits for next week's first choice, not next Monday's second-choice slot before it.
    jobs = book(lows(24), REPORT, SERVICE, Bookings())
    first_choice = [TUE.replace(hour=h) for h in (13, 14, 15)] + [THU.replace(hour=h) for h in (8, 9, 10, 11)]
    first_choice += [FRI.replace(hour=h) for h in (12, 13, 14)]
    assert starts(jobs[:20]) == [start for start in first_choice for _ in range(2)]
    assert starts(jobs[20:22]) == [WED.replace(hour=14)] * 2
    assert [job.window for job in jobs[20:22]] == ["wed 14-15"] * 2
    assert starts(jobs[22:]) == [TUE.replace(hour=13) + timedelta(days=7)] * 2
    assert not any(job.urgent for job in jobs)


def test_a_flat_battery_is_urgent_even_with_free_slots():
    flat = Unit("f", "Flo", 0.02, flat=True)
    jobs = book([low("a"), flat, low("b")], REPORT, SERVICE, Bookings())
    assert jobs[0] == Job("f", REPORT, urgent=True, why=WHY_FLAT, window=None)
    # It took no slot: both low units share the first one.
    assert starts(jobs[1:]) == [TUE.replace(hour=13)] * 2


def test_a_flat_battery_with_a_booked_job_gives_the_slot_back():
    bookings = Bookings()
    book(lows(2), REPORT, SERVICE, bookings)  # both at tue 13:00
    later = MONDAY.replace(hour=9)
    jobs = book([Unit("k00", "h", 0.0, flat=True), low("new")], later, SERVICE, bookings)
    assert jobs[0].urgent and jobs[0].why == WHY_FLAT
    assert jobs[1].start == TUE.replace(hour=13)  # k00's place, freed


@pytest.mark.parametrize(
    "needed_by",
    [
        pytest.param(TUE.replace(hour=12), id="fails before the window opens"),
        pytest.param(TUE.replace(hour=13, minute=30), id="fails within the first slot's hour"),
    ],
)
def test_failing_before_the_first_slot_is_urgent(needed_by):
    jobs = book([low("a"), low("b")], REPORT, SERVICE, Bookings(), needed_by={"a": needed_by})
    assert jobs[0] == Job("a", REPORT, urgent=True, why=WHY_FAILS_FIRST)
    assert jobs[1].start == TUE.replace(hour=13) and not jobs[1].urgent


def test_failing_after_the_first_slot_ends_is_booked_there():
    (job,) = book([low("a")], REPORT, SERVICE, Bookings(), needed_by={"a": TUE.replace(hour=14)})
    assert job.start == TUE.replace(hour=13) and not job.urgent


def test_a_unit_that_fails_before_the_preferred_slot_takes_an_earlier_second_choice():
    bookings = Bookings()
    book(lows(6), REPORT, SERVICE, bookings)  # tuesday full
    (job,) = book([low("a")], REPORT, SERVICE, bookings, needed_by={"a": WED.replace(hour=16)})
    assert (job.start, job.window, job.urgent) == (WED.replace(hour=14), "wed 14-15", False)
    (job,) = book([low("b")], REPORT, SERVICE, bookings, needed_by={"b": WED.replace(hour=14, minute=59)})
    assert job.urgent and job.why == WHY_FAILS_FIRST


def test_units_are_booked_flat_first_then_by_charge_then_key():
    units = [low("c", 0.12), low("b", 0.05), Unit("z", "h", 0.0, flat=True), low("a", 0.12), Unit("y", "h", 0.01, flat=True)]
    jobs = book(units, REPORT, SERVICE, Bookings())
    assert [job.key for job in jobs] == ["z", "y", "b", "a", "c"]
    assert starts(jobs[2:]) == [TUE.replace(hour=13)] * 2 + [TUE.replace(hour=14)]


def test_bookings_carry_over_to_the_next_report():
    bookings = Bookings()
    first = book(lows(23), REPORT, SERVICE, bookings)  # the last one lands on next week's tuesday
    next_report = REPORT + timedelta(days=7)
    again = book([low("k22"), low("new")], next_report, SERVICE, bookings)
    assert again[0] == first[22]  # still ahead: kept, not booked twice
    assert again[1].start == TUE.replace(hour=13) + timedelta(days=7)  # the slot's second place
    third = book([low("late")], next_report, SERVICE, bookings)
    assert third[0].start == TUE.replace(hour=14) + timedelta(days=7)


def test_a_job_already_past_is_not_kept():
    bookings = Bookings()
    (first,) = book([low("k")], REPORT, SERVICE, bookings)
    (second,) = book([low("k")], REPORT + timedelta(days=7), SERVICE, bookings)
    assert second.start == first.start + timedelta(days=7)
    assert bookings.taken[first.start] == 1  # the past slot stays as it was used


def test_a_service_without_slots_makes_every_job_urgent():
    for service in (Service(windows=()), Service(jobs_per_hour=0), Service(windows=(Window("tue", 13 * 60 + 10, 14 * 60),))):
        (job,) = book([low("k")], REPORT, service, Bookings())
        assert job.urgent and job.why == WHY_NO_WINDOW


def test_slots_are_whole_hours_inside_the_window():
    day = THU.date()
    assert window_slot_starts(Window("thu", 8 * 60 + 30, 12 * 60), day) == [THU.replace(hour=h) for h in (9, 10, 11)]
    assert window_slot_starts(Window("thu", 8 * 60, 11 * 60 + 59), day) == [THU.replace(hour=h) for h in (8, 9, 10)]
    assert window_label(Window("thu", 8 * 60 + 30, 12 * 60)) == "thu 8:30-12"
    assert [window_label(w) for w in DEFAULT_WINDOWS] == ["tue 13-16", "thu 8-12", "fri 12-15", "mon 10-11", "wed 14-15"]


# Properties over reports made at any time, sharing one calendar, with any charges and predictions.

_KEYS = [f"k{i}" for i in range(40)]
_units = st.lists(
    st.builds(lambda key, soc, flat: Unit(key, "h", soc, flat), st.sampled_from(_KEYS), st.floats(0, 0.15), st.booleans()),
    max_size=30,
    unique_by=lambda unit: unit.key,
)
_reports = st.lists(
    st.tuples(
        st.integers(0, 21 * 24 * 60 * 60),  # seconds after Monday midnight: three weeks of report times
        _units,
        st.dictionaries(st.sampled_from(_KEYS), st.integers(0, 14 * 24 * 60), max_size=10),  # fails this many minutes later
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(reports=_reports, jobs_per_hour=st.integers(1, 3), book_by_min=st.integers(0, 24 * 60 - 1))
def test_booking_properties(reports, jobs_per_hour, book_by_min):
    service = Service(jobs_per_hour=jobs_per_hour, book_by_min=book_by_min)
    bookings = Bookings()
    calls = []
    for offset_s, units, fails_after_min in sorted(reports, key=lambda report: report[0]):
        now = MONDAY + timedelta(seconds=offset_s)
        needed_by = {key: now + timedelta(minutes=m) for key, m in fails_after_min.items()}
        jobs = book(units, now, service, bookings, needed_by)
        calls.append((now, jobs))

        assert sorted(job.key for job in jobs) == sorted(unit.key for unit in units)
        for job, unit in zip(jobs, sorted(units, key=lambda u: (not u.flat, u.soc, u.key)), strict=True):
            assert job.key == unit.key
            if unit.flat:
                assert job.urgent and job.why == WHY_FLAT
            if job.urgent:
                assert job.start == now and job.window is None
                continue
            window = _window_of(job.start)  # raises when the job lies in no window
            assert job.window == window_label(window)
            assert job.start.minute == job.start.second == job.start.microsecond == 0
            assert job.start.hour * 60 >= window.from_min and job.start.hour * 60 + 60 <= window.to_min
            assert job.start > now
            if unit.key in needed_by:
                assert job.start + timedelta(hours=1) <= needed_by[unit.key]

    # Every regular job was booked in time: the first report that gave it was made by the deadline.
    booked_at = {}
    for now, jobs in calls:
        for job in jobs:
            if not job.urgent:
                booked_at.setdefault((job.key, job.start), now)
    for (_, start), now in booked_at.items():
        assert now <= booking_deadline(start, service)

    # No slot holds more than jobs_per_hour jobs in effect: a job stands unless a later report,
    # made before it, gave its key something else.
    in_effect = set()
    for i, (_, jobs) in enumerate(calls):
        for job in jobs:
            later = calls[i + 1 :]
            replaced = any(now < job.start and any(j.key == job.key and j != job for j in jobs_then) for now, jobs_then in later)
            if not job.urgent and not replaced:
                in_effect.add(job)
    per_slot = Counter(job.start for job in in_effect)
    assert all(n <= jobs_per_hour for n in per_slot.values()), per_slot
    assert all(n <= jobs_per_hour for n in bookings.taken.values())
