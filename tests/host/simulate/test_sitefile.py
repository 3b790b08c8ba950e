"""Site files to the model (docs/sites.md): defaults, count blocks, the default site, a round
trip through to_text, and a table of invalid files, each error on its line."""

import dataclasses
import re
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keylock.host.errors import UsageError
from keylock.host.scenario.model import ScenarioError
from keylock.host.simulate.model import DEFAULT_WINDOWS, WEEKDAYS, Service, Usage, Validation
from keylock.host.simulate.sitefile import (
    CONSTANT_20_C,
    DEFAULT_SITE,
    SiteFileError,
    format_hours,
    load,
    parse_hours,
    parse_text,
    to_text,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "workshop.site.yaml"
DOCS = ROOT / "docs" / "sites.md"

MINIMAL = """\
site:
  keys:
    - {id: K1, groups: [depot]}
  locks:
    - {id: L1, group: depot}
"""


def parse(text: str, path: str = "t.site.yaml"):
    return parse_text(textwrap.dedent(text), path)


# -- what a file says, and its defaults -------------------------------------------------------------


def test_a_minimal_file_gets_every_default():
    site = parse(MINIMAL, "some/where/depot.site.yaml")
    assert site.name == "depot"
    assert site.seed == 0 and site.days == 90 and site.runtime == "cpython" and site.timezone == "UTC"
    assert site.start == datetime(2026, 12, 7, tzinfo=UTC)
    assert site.climates == {"outdoor": CONSTANT_20_C}
    (key,) = site.keys
    assert (key.key.id, key.groups, key.climate, key.line) == ("K1", ("depot",), "outdoor", 3)
    assert site.locks[0].climate == "outdoor"
    # A group without usage gets the default: 2 openings per working day from 07:00 to 16:00.
    assert site.usage == (Usage("depot"),)
    assert site.usage[0].openings_per_day == 2.0 and site.usage[0].days == WEEKDAYS
    assert (site.usage[0].from_min, site.usage[0].to_min) == (7 * 60, 16 * 60)
    assert site.validation == Validation() and site.service == Service() and site.events == ()


def test_start_is_local_midnight_in_the_sites_time_zone():
    site = parse("start: 2027-07-05\ntimezone: Europe/Stockholm\n" + MINIMAL)
    assert site.start == datetime(2027, 7, 4, 22, 0, tzinfo=UTC)  # summer time, UTC+2
    assert site.timezone == "Europe/Stockholm"
    # The ID06 card's default expiry is five years after the local start date, not the UTC one.
    assert site.keys[0].key.id06_expires == date(2032, 7, 5)


def test_the_time_zone_may_be_given_under_site_as_in_a_scenario():
    site = parse(MINIMAL.replace("site:\n", "site:\n  timezone: America/New_York\n"))
    assert site.timezone == "America/New_York"
    assert site.start == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def test_count_blocks_make_numbered_keys_and_locks_with_the_blocks_fields():
    site = parse(
        """\
        site:
          keys:
            - {id: A1, groups: [yard]}
            - {count: 3, prefix: K, first: 8, groups: [yard, shop], soc: 0.4, battery: CR2450, climate: indoor}
          locks:
            - {count: 2, prefix: P, group: yard, kind: padlock}
            - {count: 2, prefix: C, group: shop, climate: indoor}
        climates:
          outdoor: {mean_C: 0}
          indoor: {mean_C: 20}
        """
    )
    assert [k.key.id for k in site.keys] == ["A1", "K8", "K9", "K10"]
    k9 = site.key("K9")
    assert (k9.groups, k9.climate, k9.key.soc, k9.key.battery, k9.line, k9.key.line) == (("yard", "shop"), "indoor", 0.4, "CR2450", 4, 4)
    assert k9.key.holder is None  # each its own holder
    assert [s.lock.id for s in site.locks] == ["P1", "P2", "C1", "C2"]
    assert site.lock("P2").lock.kind == "padlock" and site.lock("P2").climate == "outdoor"
    assert site.lock("C1").lock.kind == "cylinder" and site.lock("C1").climate == "indoor"


def test_keys_may_be_one_count_block():
    site = parse("site:\n  keys: {count: 4, prefix: K, groups: [depot]}\n  locks: [{id: L1, group: depot}]\n")
    assert [k.key.id for k in site.keys] == ["K1", "K2", "K3", "K4"]


def test_usage_validation_events_and_service_as_written():
    site = load(EXAMPLE)
    yard, shop = site.usage
    assert (yard.group, yard.openings_per_day, yard.days, yard.from_min, yard.to_min) == ("yard", 1.0, WEEKDAYS + ("sat",), 360, 1080)
    assert (shop.openings_per_day, shop.days, shop.from_min, shop.to_min) == (2.5, WEEKDAYS, 420, 960)
    assert site.validation == Validation(7, 420, 480, 0.2, 3, line=site.validation.line)
    lost, left, warmed, change = site.events
    assert (lost.kind, lost.key, lost.day, lost.at_min, lost.until_day, lost.block_after_h, lost.tries_per_day) == (
        "lost",
        "K3",
        5,
        900,
        12,
        2.0,
        3.0,
    )
    assert (left.kind, left.key, left.lock, left.day, left.at_min, left.hours) == ("left_in_lock", "T2", "L3", 2, 990, 14.0)
    assert (warmed.kind, warmed.lock, warmed.key, warmed.to_C) == ("warmed", "L1", "K1", 55.0)
    assert (change.kind, change.key, change.day, change.at_min) == ("battery_change", "K1", 15, 9 * 60)
    assert [(w.day, w.from_min, w.to_min, w.choice) for w in site.service.windows] == [
        ("tue", 780, 960, 1),
        ("thu", 480, 720, 1),
        ("wed", 840, 900, 2),
    ]
    assert (site.service.jobs_per_hour, site.service.book_by_min, site.service.report_day, site.service.low_soc) == (1, 720, "mon", 0.15)


def test_a_key_never_found_has_no_until_day():
    site = parse(MINIMAL + "events:\n  - {lost: K1, day: 3}\n")
    assert site.events[0].until_day is None and site.events[0].block_after_h == 4.0


# -- the default site ---------------------------------------------------------------------------------


def test_the_default_site_is_a_winter_quarter_at_a_depot():
    site = load(DEFAULT_SITE)
    assert 90 <= len(site.keys) <= 110 and 35 <= len(site.locks) <= 45
    assert site.start == datetime(2026, 12, 6, 23, 0, tzinfo=UTC) and site.days == 90  # 2026-12-07 00:00 in Stockholm
    assert site.start.astimezone(__import__("zoneinfo").ZoneInfo(site.timezone)).weekday() == 0
    padlocks = [s for s in site.locks if s.lock.kind == "padlock"]
    cylinders = [s for s in site.locks if s.lock.kind == "cylinder"]
    assert padlocks and all(s.climate == "outdoor" for s in padlocks)
    assert cylinders and all(s.climate != "outdoor" for s in cylinders)
    outdoor = site.climates["outdoor"]
    assert outdoor.cold_snaps and min(outdoor.monthly_mean_C) < 0
    assert site.validation.forget_share == 0.05
    kinds = {e.kind: e for e in site.events}
    assert set(kinds) == {"lost", "left_in_lock", "warmed", "battery_change"}
    assert (kinds["lost"].day, kinds["lost"].until_day) == (20, 45)
    assert kinds["left_in_lock"].at_min + kinds["left_in_lock"].hours * 60 > 24 * 60  # overnight
    low = [k for k in site.keys if 0.10 <= k.key.soc <= 0.30]
    assert len(low) >= 5
    assert site.service.windows == DEFAULT_WINDOWS and site.service.jobs_per_hour == 2


def test_the_default_site_has_about_two_openings_per_key_per_working_day():
    site = load(DEFAULT_SITE)
    per_day = {u.group: u.openings_per_day for u in site.usage if "wed" in u.days}
    mean = sum(sum(per_day.get(g, 0.0) for g in k.groups) for k in site.keys) / len(site.keys)
    assert 1.8 <= mean <= 2.6


# -- round trips --------------------------------------------------------------------------------------


def _without_lines(value):
    """The parsed site with every `line` 0 and no path: what to_text can give back."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _without_lines(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if "line" in changes:
            changes["line"] = 0
        if "path" in changes:
            changes["path"] = ""
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_without_lines(v) for v in value)
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("path", [EXAMPLE, DEFAULT_SITE], ids=["example", "default"])
def test_to_text_reads_back_as_the_same_site(path):
    site = load(path)
    again = parse_text(to_text(site), "again.site.yaml")
    assert _without_lines(again) == _without_lines(site)
    assert again.start == site.start and len(again.keys) == len(site.keys)


def test_to_text_writes_odd_values_that_read_back():
    site = parse(
        MINIMAL.replace("{id: K1,", '{id: K1, holder: "yes", id06: "0123", site: other,')
        + "events:\n  - {lost: K1, day: 1, block_after: 90s, found: 5}\nvalidation: {hours: '23:00-24:00'}\n"
    )
    again = parse_text(to_text(site))
    assert again.key("K1").key.holder == "yes" and again.key("K1").key.id06 == "0123"
    assert _without_lines(again) == _without_lines(site)


def test_the_docs_example_is_the_example_file():
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/sites.md shows the format in a yaml block"
    assert _without_lines(parse_text(blocks[0], "docs")) == _without_lines(load(EXAMPLE))


# -- hours ----------------------------------------------------------------------------------------------


@given(st.integers(0, 24 * 60 - 1), st.integers(1, 24 * 60))
def test_hours_read_back_and_must_run_forward(a, b):
    if a < b:
        assert parse_hours(format_hours(a, b)) == (a, b)
        assert parse_hours(f" {format_hours(a, b).replace('-', ' - ')} ") == (a, b)
    else:
        with pytest.raises(ValueError, match="ends before it starts"):
            parse_hours(format_hours(a, b))


@pytest.mark.parametrize("text", ["7-16", "07:00", "07:00-16:00-18:00", "07:00-25:00", "07:60-08:00", "", "seven-four"])
def test_hours_that_are_not_hours(text):
    with pytest.raises(ValueError):
        parse_hours(text)


# -- invalid files, each on its line ----------------------------------------------------------------------

# Each case is a whole file; `#<` marks the line the error must name.
INVALID = {
    "unknown top-level key": (MINIMAL + "useage: {}  #<\n", "unknown key 'useage' (did you mean 'usage'?)"),
    "no site": ("name: x  #<\n", "'site' is missing"),
    "unknown key field": (
        "site:\n  keys:\n    - {id: K1, grups: [depot]}  #<\n  locks:\n    - {id: L1, group: depot}\n",
        "unknown key 'grups' (did you mean 'groups'?)",
    ),
    "unknown lock field": (
        "site:\n  keys:\n    - {id: K1}\n  locks:\n    - {id: L1, group: depot, climat: x}  #<\n",
        "did you mean 'climate'?",
    ),
    "a group no lock has": (
        "site:\n  keys:\n    - {id: K1,\n       groups: [depot, dpot]}  #<\n  locks:\n    - {id: L1, group: depot}\n",
        "no lock is in group 'dpot' (did you mean 'depot'?)",
    ),
    "a group listed twice": (
        "site:\n  keys:\n    - {id: K1, groups: [depot, depot]}  #<\n  locks:\n    - {id: L1, group: depot}\n",
        "listed twice",
    ),
    "usage of an unknown group": (
        MINIMAL + "usage:\n  depot: {}\n  deopt: {openings_per_day: 1}  #<\n",
        "no lock is in group 'deopt' (did you mean 'depot'?)",
    ),
    "usage hours backwards": (MINIMAL + "usage:\n  depot: {hours: '16:00-07:00'}  #<\n", "ends before it starts"),
    "usage on a day that is not one": (MINIMAL + "usage:\n  depot: {days: [mon, tues]}  #<\n", "did you mean 'tue'?"),
    "negative openings": (MINIMAL + "usage:\n  depot: {openings_per_day: -1}  #<\n", "openings_per_day must be from 0"),
    "event naming an unknown key": (
        MINIMAL + "events:\n  - {battery_change: K11, day: 1}  #<\n",
        "unknown key 'K11' (did you mean 'K1'?); the site's keys: K1",
    ),
    "event naming an unknown lock": (MINIMAL + "events:\n  - {left_in_lock: K1, lock: L9, day: 1}  #<\n", "unknown lock 'L9'"),
    "warmed cylinder": (MINIMAL + "events:\n  - {warmed: L1, key: K1, day: 1}  #<\n", "L1 is a cylinder; only a padlock"),
    "warmed without its key": (
        MINIMAL.replace("group: depot}", "group: depot, kind: padlock}") + "events:\n  - {warmed: L1, day: 1}  #<\n",
        "'key' is missing",
    ),
    "found before lost": (
        MINIMAL + "events:\n  - lost: K1\n    day: 20\n    found: 12  #<\n",
        "found (day 12) must be later than the day the key is lost (day 20)",
    ),
    "found the day it was lost": (MINIMAL + "events:\n  - {lost: K1, day: 20,\n     found: 20}  #<\n", "must be later"),
    "event beyond the run": (
        "days: 30\n" + MINIMAL + "events:\n  - {battery_change: K1, day: 30}  #<\n",
        "day 30 is beyond the run: days are 0 to 29",
    ),
    "found beyond the run": ("days: 30\n" + MINIMAL + "events:\n  - {lost: K1, day: 3, found: 31}  #<\n", "found 31 is beyond the run"),
    "event with two kinds": (MINIMAL + "events:\n  - {lost: K1, battery_change: K1, day: 3}  #<\n", "exactly one of lost, left_in_lock"),
    "event of no kind": (MINIMAL + "events:\n  - {stolen: K1, day: 3}  #<\n", "exactly one of"),
    "event at 24:00": (MINIMAL + "events:\n  - {battery_change: K1, day: 3, at: '24:00'}  #<\n", 'from "00:00" to "23:59"'),
    "bad block_after": (MINIMAL + "events:\n  - {lost: K1, day: 3, block_after: 4 hours}  #<\n", "not a duration"),
    "windows overlapping": (
        MINIMAL
        + "service:\n  windows:\n    - {day: tue, hours: '13:00-16:00'}\n    - {day: wed, hours: '13:00-16:00'}\n    - {day: tue, hours: '15:00-17:00', choice: 2}  #<\n",
        "overlaps tue 13:00-16:00",
    ),
    "window past midnight": (MINIMAL + "service:\n  windows:\n    - {day: tue, hours: '22:00-25:00'}  #<\n", "00:00 to 24:00"),
    "window choice 3": (MINIMAL + "service:\n  windows:\n    - {day: tue, hours: '08:00-09:00', choice: 3}  #<\n", "choice is 1"),
    "no windows": (MINIMAL + "service:\n  windows: []  #<\n", "leave it out"),
    "jobs per hour 0": (MINIMAL + "service: {jobs_per_hour: 0}  #<\n", "at least 1"),
    "low_soc above 1": (MINIMAL + "service:\n  low_soc: 15  #<\n", "low_soc must be from 0 to 1"),
    "an unknown key at a big site": (
        "site:\n  keys: {count: 100, prefix: K}\n  locks: [{id: L1}]\nevents:\n  - {battery_change: K101, day: 1}  #<\n",
        "unknown key 'K101' (did you mean 'K11'?); the site has 100 keys: K1, K2, K3, K4, K5, K6, K7, K8, ...",
    ),
    "an undefined climate": (
        "site:\n  keys:\n    - {id: K1, climate: indor}  #<\n  locks:\n    - {id: L1}\nclimates:\n  outdoor: {mean_C: 0}\n  indoor: {mean_C: 20}\n",
        "unknown climate 'indor' (did you mean 'indoor'?); climates: outdoor, indoor",
    ),
    "no outdoor for the default": (
        "site:\n  keys:\n    - {id: K1, climate: indoor}\n  locks:\n    - {id: L1}  #<\nclimates:\n  indoor: {mean_C: 20}\n",
        "lock L1 has no climate: and climates: defines no 'outdoor'",
    ),
    "a climate without means": (MINIMAL + "climates:\n  outdoor: {daily_swing_K: 5}  #<\n", "give either monthly_mean_C"),
    "forget_share above 1": (
        MINIMAL + "validation:\n  every_days: 7\n  forget_share: 1.5  #<\n",
        "forget_share must be from 0 to 1, not 1.5",
    ),
    "forget_share negative": (MINIMAL + "validation: {forget_share: -0.1}  #<\n", "forget_share must be from 0 to 1"),
    "every_days above 10": (MINIMAL + "validation: {every_days: 11}  #<\n", "every_days must be from 1 to 10"),
    "every_days 0": (MINIMAL + "validation: {every_days: 0}  #<\n", "every_days must be a whole number of at least 1"),
    "ids used twice": (
        "site:\n  keys:\n    - {count: 3, prefix: K, first: 1}\n  locks:\n    - {id: K2}  #<\n",
        "id 'K2' is already used by a key",
    ),
    "a holder in a count block": (
        "site:\n  keys:\n    - {count: 3, prefix: K, holder: Anna}  #<\n  locks:\n    - {id: L1}\n",
        "a block of keys: unknown key 'holder'",
    ),
    "a count block without a prefix": ("site:\n  keys:\n    - {count: 3}  #<\n  locks:\n    - {id: L1}\n", "'prefix' is missing"),
    "count 0": (
        "site:\n  keys:\n    - {count: 0, prefix: K}  #<\n  locks:\n    - {id: L1}\n",
        "count must be a whole number of at least 1",
    ),
    "no keys": ("site:\n  keys: []  #<\n  locks:\n    - {id: L1}\n", "a site needs at least one"),
    "start with a time": ("start: 2026-12-07T08:00  #<\n" + MINIMAL, "is not a date such as 2026-12-07"),
    "unknown time zone": ("timezone: Europe/Stokholm  #<\n" + MINIMAL, "unknown time zone"),
    "days 0": ("days: 0  #<\n" + MINIMAL, "days must be a whole number of at least 1"),
    "runtime misspelt": ("runtime: cpyton  #<\n" + MINIMAL, "did you mean 'cpython'?"),
    "a key's soc": ("site:\n  keys:\n    - {id: K1, soc: 1.2}  #<\n  locks:\n    - {id: L1}\n", "soc must be from 0 to 1"),
    "not YAML": (MINIMAL + "usage: {depot: [}  #<\n", "not valid YAML"),
}


@pytest.mark.parametrize("text, reason", list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_file_is_an_error_on_its_line(text, reason):
    marked = [i for i, line in enumerate(text.splitlines(), 1) if line.endswith("#<")]
    assert len(marked) == 1
    with pytest.raises(SiteFileError) as caught:
        parse_text(text, "bad.site.yaml")
    assert reason in caught.value.reason
    assert caught.value.line == marked[0], str(caught.value)
    assert str(caught.value) == f"bad.site.yaml:{marked[0]}: {caught.value.reason}"


def test_an_empty_file_says_what_a_site_file_needs():
    with pytest.raises(SiteFileError, match=r"^e.site.yaml:1: the file is empty; a site file needs at least `site:`"):
        parse_text("# nothing\n", "e.site.yaml")


def test_errors_are_usage_errors_so_the_cli_exits_2():
    assert issubclass(SiteFileError, ScenarioError) and issubclass(SiteFileError, UsageError)
    assert SiteFileError.exit_code == 2


def test_load_reports_a_missing_file_and_bytes_that_are_not_utf8(tmp_path):
    with pytest.raises(SiteFileError, match=r"none.site.yaml:0: cannot read the file"):
        load(tmp_path / "none.site.yaml")
    bad = tmp_path / "bad.site.yaml"
    bad.write_bytes(MINIMAL.encode() + b"name: \xff\n")
    with pytest.raises(SiteFileError, match=r"bad.site.yaml:6: not UTF-8 text"):
        load(bad)
