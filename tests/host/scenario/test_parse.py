"""Scenario files to the model: every action and expect form, and a table of malformed files."""

import textwrap
from datetime import UTC, date, datetime

import pytest

from keylock.host.scenario.model import (
    DENIAL_REASONS,
    ERROR_CODES,
    Expect,
    ScenarioError,
    ScenarioEvent,
    Schedule,
)
from keylock.host.scenario.parse import ACTIONS, load, parse_text

SITE = """\
name: test
site:
  keys:
    - {id: K1, holder: "Anna Berg", id06: BB-1234-567890, battery: CR2032, soc: 1.0}
    - {id: K2, battery: CR2450, soc: 0.3, temperature_C: -20, state: issued, id06_expires: 2027-03-01}
  locks:
    - {id: L1, group: depot, kind: padlock}
    - {id: L2, temperature_C: 40}
  phones: [P1, P2]
steps:
"""
SITE_LINES = SITE.count("\n")  # the first step is on line SITE_LINES + 1


def parse_steps(steps: str):
    return parse_text(SITE + textwrap.indent(textwrap.dedent(steps), "  "), "t.scenario.yaml")


def one_step(text: str):
    (step,) = parse_steps(text).steps
    return step


def test_the_example_of_scenarios_md():
    s = parse_text(
        textwrap.dedent(
            """\
            name: a validated key opens for 10 days, then not
            seed: 7                      # optional
            runtime: cpython             # optional
            site:
              keys:
                - {id: K1, holder: "Anna Berg", id06: BB-1234-567890, battery: CR2032, soc: 1.0}
              locks:
                - {id: L1, group: depot, kind: padlock}
              phones: [P1, P2]
            steps:
              - grant: {key: K1, locks: [L1]}            # or groups: [depot]; optional schedule
              - validate: {key: K1}
              - open: {key: K1, lock: L1}
                expect: granted
              - advance: 10d
              - open: {key: K1, lock: L1}
                expect: {denied: validity_expired}
            """
        ),
        "example.scenario.yaml",
    )
    assert s.name == "a validated key opens for 10 days, then not"
    assert (s.seed, s.runtime) == (7, "cpython")
    assert s.start == datetime(2026, 1, 5, 8, tzinfo=UTC) and s.timezone == "UTC"
    assert [(st.index, st.action, st.line) for st in s.steps] == [
        (1, "grant", 11),
        (2, "validate", 12),
        (3, "open", 13),
        (4, "advance", 15),
        (5, "open", 16),
    ]
    assert s.steps[2].expect == Expect(result="granted", line=14)
    assert s.steps[3].args == {"seconds": 864000.0}
    assert s.steps[4].expect.result == "denied" and s.steps[4].expect.reason == "validity_expired"
    assert s.steps[0].expect is None


def test_site_fields_and_defaults():
    s = parse_steps("- advance: 1s\n")
    k1, k2 = s.site.keys
    assert (k1.id, k1.holder, k1.id06, k1.battery, k1.soc, k1.temperature_C, k1.state) == (
        "K1",
        "Anna Berg",
        "BB-1234-567890",
        "CR2032",
        1.0,
        20.0,
        "approved",
    )
    assert k1.id06_expires == date(2031, 1, 5)  # five years after the start
    assert (k2.battery, k2.soc, k2.temperature_C, k2.state, k2.id06_expires) == ("CR2450", 0.3, -20.0, "issued", date(2027, 3, 1))
    l1, l2 = s.site.locks
    assert (l1.group, l1.kind, l1.temperature_C) == ("depot", "padlock", 20.0)
    assert (l2.group, l2.kind, l2.temperature_C) == (None, "cylinder", 40.0)
    assert [p.id for p in s.site.phones] == ["P1", "P2"]
    assert (k1.line, k2.line, l1.line) == (4, 5, 7)


def test_name_defaults_to_the_file_name_and_runtime_to_cpython():
    s = parse_text("steps: [advance: 1s]\n", "dir/cold-morning.scenario.yaml")
    assert (s.name, s.runtime, s.seed) == ("cold-morning", "cpython", None)
    assert s.site.keys == ()


def test_start_and_timezone():
    s = parse_text("start: 2026-06-01T07:00:00\ntimezone: Europe/Stockholm\nsteps: [advance: 1s]\n")
    assert s.start == datetime(2026, 6, 1, 5, tzinfo=UTC)  # local summer time, UTC+2
    assert s.timezone == "Europe/Stockholm"
    s = parse_text("start: '2026-02-01T00:00:00+01:00'\nsite: {timezone: Europe/Oslo}\nsteps: [advance: 1s]\n")
    assert s.start == datetime(2026, 1, 31, 23, tzinfo=UTC) and s.timezone == "Europe/Oslo"


# Every action with its arguments, as parsed.
@pytest.mark.parametrize(
    "text, action, args",
    [
        ("grant: {key: K1, locks: [L1, L2]}", "grant", {"key": "K1", "locks": ("L1", "L2"), "groups": None, "schedule": None}),
        ("grant: {key: K1, groups: [depot]}", "grant", {"key": "K1", "locks": None, "groups": ("depot",), "schedule": None}),
        ("revoke: {key: K1, locks: [L1]}", "revoke", {"key": "K1", "locks": ("L1",), "groups": None}),
        ("revoke: {key: K1, groups: [depot]}", "revoke", {"key": "K1", "locks": None, "groups": ("depot",)}),
        ("validate: {key: K1}", "validate", {"key": "K1", "phone": None, "online": True}),
        ("validate: {key: K1, phone: P2, online: false}", "validate", {"key": "K1", "phone": "P2", "online": False}),
        ("open: {key: K1, lock: L1}", "open", {"key": "K1", "lock": "L1", "hold_s": 2.0}),
        ("open: {key: K1, lock: L1, hold: 0.1s}", "open", {"key": "K1", "lock": "L1", "hold_s": 0.1}),
        ("insert: {key: K1, lock: L2}", "insert", {"key": "K1", "lock": "L2"}),
        ("remove: {key: K1, lock: L2}", "remove", {"key": "K1", "lock": "L2"}),
        ("advance: 1d2h", "advance", {"seconds": 93600.0}),
        ("advance: 90", "advance", {"seconds": 90.0}),
        ("block: {key: K2}", "block", {"key": "K2"}),
        ("unblock: {key: K2}", "unblock", {"key": "K2"}),
        ("pair: {key: K1, phone: P1}", "pair", {"key": "K1", "phone": "P1"}),
        ("unpair: {key: K1, phone: P1}", "unpair", {"key": "K1", "phone": "P1"}),
        ("remove_battery: {key: K1, for: 30s}", "remove_battery", {"key": "K1", "for_s": 30.0}),
        ("set_temperature: {key: K1, celsius: -25}", "set_temperature", {"key": "K1", "lock": None, "celsius": -25.0, "part": None}),
        (
            "set_temperature: {lock: L1, celsius: 90, part: keyhole}",
            "set_temperature",
            {"key": None, "lock": "L1", "celsius": 90.0, "part": "keyhole"},
        ),
        ("set_battery: {key: K1, soc: 0.14}", "set_battery", {"key": "K1", "soc": 0.14}),
        ("status: {key: K1}", "status", {"key": "K1", "lock": None}),
        ("status: {lock: L1}", "status", {"key": None, "lock": "L1"}),
        ("battery_report:", "battery_report", {}),
        ("battery_report: {}", "battery_report", {}),
        ("audit: {lock: L1}", "audit", {"key": None, "lock": "L1", "last": None}),
        ("audit: {key: K1, last: 3}", "audit", {"key": "K1", "lock": None, "last": 3}),
    ],
)
def test_every_action(text, action, args):
    step = one_step(f"- {text}\n")
    assert (step.action, step.args, step.line) == (action, args, SITE_LINES + 1)


def test_every_action_is_in_the_table():
    assert set(ACTIONS) == {
        "grant",
        "revoke",
        "validate",
        "open",
        "insert",
        "remove",
        "advance",
        "block",
        "unblock",
        "pair",
        "unpair",
        "remove_battery",
        "set_temperature",
        "set_battery",
        "status",
        "battery_report",
        "audit",
    }


def test_schedule_in_local_time_with_unquoted_times():
    # Unquoted 16:00 is the integer 960 to YAML 1.1; the parser reads the text as written.
    step = one_step("- grant: {key: K1, locks: [L1], schedule: {days: [mon, tue, wed, thu, fri], from: 07:00, to: 16:00}}\n")
    assert step.args["schedule"] == Schedule(("mon", "tue", "wed", "thu", "fri"), 7 * 60, 16 * 60, line=SITE_LINES + 1)
    step = one_step('- grant: {key: K1, groups: [depot], schedule: {from: "22:00", to: "24:00"}}\n')
    assert (step.args["schedule"].days, step.args["schedule"].from_min, step.args["schedule"].to_min) == (
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
        1320,
        1440,
    )


@pytest.mark.parametrize(
    "step, expect",
    [
        ("grant: {key: K1, locks: [L1]}", Expect("ok")),
        ("block: {key: K1}", Expect("ok")),
        ("validate: {key: K1}", Expect("ok")),
        *[("validate: {key: K1}", Expect("error", code=c)) for c in ERROR_CODES],
        ("open: {key: K1, lock: L1}", Expect("granted")),
        *[("open: {key: K1, lock: L1}", Expect("denied", reason=r)) for r in DENIAL_REASONS],
        ("insert: {key: K1, lock: L1}", Expect("denied", reason="low_battery")),
        ("remove: {key: K1, lock: L1}", Expect("ok")),
        ("pair: {key: K1, phone: P1}", Expect("error", code="already_paired")),
        ("unpair: {key: K1, phone: P1}", Expect("error", code="not_paired")),
    ],
)
def test_result_expectations(step, expect):
    if expect.reason:
        text = f"{{denied: {expect.reason}}}"
    elif expect.code:
        text = f"{{error: {expect.code}}}"
    else:
        text = expect.result
    got = one_step(f"- {step}\n  expect: {text}\n").expect
    assert (got.result, got.reason, got.code, got.line) == (expect.result, expect.reason, expect.code, SITE_LINES + 2)


def test_status_expectations_for_a_key_and_a_lock():
    got = one_step(
        "- status: {key: K1}\n  expect: {battery_low: true, soc: 0.15, validated: false, valid_until: null,"
        " paired_phone: P1, clock_set: true}\n"
    ).expect
    assert got.fields == {
        "battery_low": True,
        "soc": 0.15,
        "validated": False,
        "valid_until": None,
        "paired_phone": "P1",
        "clock_set": True,
    }
    got = one_step("- status: {key: K1}\n  expect: {valid_until: 2026-01-15T08:00:00Z, paired_phone: null}\n").expect
    assert got.fields == {"valid_until": datetime(2026, 1, 15, 8, tzinfo=UTC), "paired_phone": None}
    got = one_step("- status: {lock: L1}\n  expect: {blocklist_version: 2, blocklist_size: 3000, events: 12, temperature_C: 85.5}\n").expect
    assert got.fields == {"blocklist_version": 2, "blocklist_size": 3000, "events": 12, "temperature_C": 85.5}


def test_battery_report_and_audit_expectations():
    assert one_step("- battery_report:\n  expect: {keys: [K2, K1]}\n").expect.keys == frozenset({"K1", "K2"})
    assert one_step("- battery_report: {}\n  expect: {keys: []}\n").expect.keys == frozenset()
    got = one_step(
        "- audit: {lock: L1, last: 3}\n  expect:\n"
        "    - {key: K1, result: granted}\n    - {key: K2, denied: blocked}\n    - {key: K2, result: denied}\n"
    ).expect
    first = SITE_LINES + 3
    assert got.events == (
        ScenarioEvent("K1", "granted", None, first),
        ScenarioEvent("K2", "denied", "blocked", first + 1),
        ScenarioEvent("K2", "denied", None, first + 2),
    )
    assert one_step("- audit: {key: K1}\n  expect: []\n").expect.events == ()


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "x.scenario.yaml"
    path.write_text(SITE + "  - advance: 2h\n")
    assert load(path).steps[0].args == {"seconds": 7200.0} and load(path).path == str(path)


# Malformed files: (text after the site, line counted from the first step, part of the reason).
STEP = SITE_LINES + 1
MALFORMED = [
    pytest.param("- opne: {key: K1, lock: L1}\n", STEP, "unknown action 'opne' (did you mean 'open'?)", id="unknown_action"),
    pytest.param("- expect: ok\n", STEP, "step 1 has no action", id="no_action"),
    pytest.param("- {advance: 1s, block: {key: K1}}\n", STEP, "has two actions (advance, block)", id="two_actions"),
    pytest.param("- open: {key: K9, lock: L1}\n", STEP, "unknown key 'K9'", id="undefined_key"),
    pytest.param("- open: {key: K1, lock: L7}\n", STEP, "unknown lock 'L7'", id="undefined_lock"),
    pytest.param("- pair: {key: K1, phone: P3}\n", STEP, "unknown phone 'P3'", id="undefined_phone"),
    pytest.param("- grant: {key: K1, groups: [yard]}\n", STEP, "no lock is in group 'yard'", id="undefined_group"),
    pytest.param("- open: {key: K1}\n", STEP, "'lock' is missing", id="missing_argument"),
    pytest.param("- open: {key: K1, lock: L1, hodl: 5s}\n", STEP, "unknown key 'hodl' (did you mean 'hold'?)", id="unknown_argument"),
    pytest.param("- grant: {key: K1}\n", STEP, "exactly one of 'locks' or 'groups'", id="grant_neither"),
    pytest.param("- grant: {key: K1, locks: [L1], groups: [depot]}\n", STEP, "exactly one of", id="grant_both"),
    pytest.param("- grant: {key: K1, locks: L1}\n", STEP, "locks must be a list", id="locks_not_list"),
    pytest.param("- revoke: {key: K1, locks: [L1], schedule: {}}\n", STEP, "unknown key 'schedule'", id="revoke_schedule"),
    pytest.param("- advance: 10 days\n", STEP, "is not a duration", id="bad_duration"),
    pytest.param("- advance: 2h1d\n", STEP, "is not a duration", id="duration_units_out_of_order"),
    pytest.param("- advance: -5\n", STEP, "is not a duration", id="negative_duration"),
    pytest.param("- advance: 40000d\n", STEP, "longer than the longest duration", id="huge_duration"),
    pytest.param("- advance: [1s]\n", STEP, "must be a single value", id="duration_list"),
    pytest.param(
        "- open: {key: K1, lock: L1}\n  expect: ok\n", STEP + 1, "must be granted or {denied: REASON}, not ok", id="open_expect_ok"
    ),
    pytest.param(
        "- open: {key: K1, lock: L1}\n  expect: {denied: too_cold}\n", STEP + 1, "denial reason must be one of", id="unknown_reason"
    ),
    pytest.param("- validate: {key: K1}\n  expect: {error: timeout}\n", STEP + 1, "error code must be one of", id="unknown_code"),
    pytest.param("- validate: {key: K1}\n  expect: granted\n", STEP + 1, "must be ok or {error: CODE}", id="validate_granted"),
    pytest.param("- block: {key: K1}\n  expect: {error: blocked}\n", STEP + 1, "must be ok, not", id="block_error"),
    pytest.param("- advance: 1h\n  expect: ok\n", STEP + 1, "advance takes no expect", id="advance_expect"),
    pytest.param("- status: {key: K1}\n  expect: {blocklist_size: 3}\n", STEP + 1, "unknown key 'blocklist_size'", id="lock_field_on_key"),
    pytest.param("- status: {lock: L1}\n  expect: {battery_lo: true}\n", STEP + 1, "unknown key 'battery_lo'", id="unknown_status_field"),
    pytest.param("- status: {key: K1}\n  expect: {battery_low: maybe}\n", STEP + 1, "battery_low must be true or false", id="status_bool"),
    pytest.param("- status: {key: K1}\n  expect: {soc: high}\n", STEP + 1, "soc must be a number", id="status_number"),
    pytest.param("- status: {lock: L1}\n  expect: {events: 1.5}\n", STEP + 1, "events must be a whole number", id="status_int"),
    pytest.param("- status: {key: K1}\n  expect: {valid_until: soon}\n", STEP + 1, "not an ISO time", id="status_time"),
    pytest.param("- status: {key: K1}\n  expect: {paired_phone: P9}\n", STEP + 1, "unknown phone 'P9'", id="status_phone"),
    pytest.param("- status: {key: K1}\n  expect: {}\n", STEP + 1, "name at least one key status field", id="status_empty"),
    pytest.param("- status: {key: K1, lock: L1}\n", STEP, "exactly one of 'key' or 'lock'", id="status_both"),
    pytest.param("- battery_report:\n  expect: {keys: [K1, K5]}\n", STEP + 1, "unknown key 'K5'", id="report_unknown_key"),
    pytest.param("- battery_report:\n  expect: [K1]\n", STEP + 1, "must be a mapping with keys", id="report_list"),
    pytest.param("- battery_report: {key: K1}\n", STEP, "unknown key 'key'", id="report_argument"),
    pytest.param(
        "- audit: {lock: L1}\n  expect:\n    - {key: K1, result: granted}\n    - {key: K1, result: opened}\n",
        STEP + 3,
        "result must be one of granted, denied",
        id="audit_result",
    ),
    pytest.param("- audit: {lock: L1}\n  expect: [{key: K1}]\n", STEP + 1, "either result", id="audit_no_result"),
    pytest.param("- audit: {lock: L1}\n  expect: {key: K1, result: granted}\n", STEP + 1, "must be a list", id="audit_not_list"),
    pytest.param("- audit: {lock: L1, last: 0}\n", STEP, "last must be a whole number of at least 1", id="audit_last"),
    pytest.param("- set_battery: {key: K1, soc: 1.5}\n", STEP, "soc must be from 0 to 1, not 1.5", id="soc_range"),
    pytest.param("- set_temperature: {key: K1, celsius: 30, part: body}\n", STEP, "part applies to a lock", id="part_on_key"),
    pytest.param(
        "- set_temperature: {lock: L1, celsius: 30, part: handle}\n", STEP, "part must be one of body, keyhole", id="unknown_part"
    ),
    pytest.param("- set_temperature: {lock: L1, celsius: -300}\n", STEP, "celsius must be from -273.15", id="below_absolute_zero"),
    pytest.param("- set_temperature: {lock: L1, celsius: .nan}\n", STEP, "celsius must be a finite number", id="nan"),
    pytest.param("- validate: {key: K1, online: perhaps}\n", STEP, "online must be true or false", id="online_bool"),
    pytest.param("- remove_battery: {key: K1}\n", STEP, "'for' is missing", id="remove_battery_for"),
    pytest.param(
        "- grant: {key: K1, locks: [L1], schedule: {days: [mon, fry]}}\n", STEP, "not 'fry' (did you mean 'fri'?)", id="schedule_day"
    ),
    pytest.param(
        '- grant: {key: K1, locks: [L1], schedule: {from: "16:00", to: "07:00"}}\n', STEP, "from must be before to", id="schedule_order"
    ),
    pytest.param('- grant: {key: K1, locks: [L1], schedule: {from: "7am"}}\n', STEP, "not a time of day", id="schedule_time"),
    pytest.param("- grant: {key: K1, locks: [L1], schedule: {days: [mon, mon]}}\n", STEP, "a day is listed twice", id="schedule_dup_day"),
    pytest.param("- open: {key: K1, lock: L1, key: K2}\n", STEP, "'key' is given twice", id="duplicate_argument"),
    pytest.param(
        "- open: {key: K1, lock: L1}\n  expect: granted\n  expect: granted\n", STEP + 2, "'expect' is given twice", id="duplicate_expect"
    ),
    pytest.param("- open\n", STEP, "must be a mapping with one action", id="step_not_mapping"),
    pytest.param(
        "- open: {key: !!python/name:os.system K1, lock: L1}\n",
        STEP,
        "tags such as !!python/name:os.system are not supported",
        id="python_tag",
    ),
    pytest.param("- open: {key: !secret K1, lock: L1}\n", STEP, "YAML tags such as !secret are not supported", id="custom_tag"),
    pytest.param("- open: {key: K1, lock: L1\n", STEP + 1, "not valid YAML", id="unclosed_flow"),
]


@pytest.mark.parametrize("steps, line, reason", MALFORMED)
def test_malformed_steps_are_rejected_with_line_and_reason(steps, line, reason):
    with pytest.raises(ScenarioError) as excinfo:
        parse_text(SITE + textwrap.indent(steps, "  "), "bad.scenario.yaml")
    err = excinfo.value
    assert reason in err.reason and err.line == line, str(err)
    assert str(err) == f"bad.scenario.yaml:{line}: {err.reason}"


@pytest.mark.parametrize(
    "text, line, reason",
    [
        pytest.param("", 1, "the file is empty", id="empty"),
        pytest.param("# only a comment\n", 1, "the file is empty", id="comment_only"),
        pytest.param("just words\n", 1, "the scenario must be a mapping", id="scalar"),
        pytest.param("name: x\n", 1, "'steps' is missing", id="no_steps"),
        pytest.param("name: x\nsteps: []\n", 2, "needs at least one step", id="empty_steps"),
        pytest.param("name: x\nsteps:\n", 2, "needs at least one step", id="null_steps"),
        pytest.param("name: x\nstep: [advance: 1s]\n", 2, "unknown key 'step' (did you mean 'steps'?)", id="unknown_top_key"),
        pytest.param("name: x\nname: y\nsteps: [advance: 1s]\n", 2, "'name' is given twice", id="duplicate_top_key"),
        pytest.param("runtime: pypy\nsteps: [advance: 1s]\n", 1, "runtime must be one of cpython, micropython", id="runtime"),
        pytest.param("seed: -1\nsteps: [advance: 1s]\n", 1, "seed must be a whole number", id="seed"),
        pytest.param("seed: abc\nsteps: [advance: 1s]\n", 1, "seed must be a whole number", id="seed_text"),
        pytest.param("start: yesterday\nsteps: [advance: 1s]\n", 1, "is not an ISO time", id="start"),
        pytest.param("start: 1900-01-01T00:00:00Z\nsteps: [advance: 1s]\n", 1, "outside 1970 to 2099", id="start_range"),
        pytest.param("timezone: Mars/Olympus\nsteps: [advance: 1s]\n", 1, "unknown time zone", id="timezone"),
        pytest.param("timezone: UTC\nsite: {timezone: UTC}\nsteps: [advance: 1s]\n", 2, "timezone is given twice", id="timezone_twice"),
        pytest.param("site: {keys: [{holder: x}]}\nsteps: [advance: 1s]\n", 1, "'id' is missing", id="key_without_id"),
        pytest.param(
            "site:\n  keys:\n    - {id: K1, battery: AA}\nsteps: [advance: 1s]\n",
            3,
            "battery must be one of CR2032, CR2450, CR2",
            id="battery",
        ),
        pytest.param("site:\n  keys:\n    - {id: K1, soc: 2}\nsteps: [advance: 1s]\n", 3, "soc must be from 0 to 1", id="key_soc"),
        pytest.param(
            "site:\n  keys:\n    - {id: K1, state: lost}\nsteps: [advance: 1s]\n",
            3,
            "state must be one of approved, issued, unapproved",
            id="key_state",
        ),
        pytest.param("site:\n  keys:\n    - {id: K1, id06_expires: never}\nsteps: [advance: 1s]\n", 3, "not an ISO date", id="card_expiry"),
        pytest.param("site:\n  keys:\n    - {id: K1, colour: red}\nsteps: [advance: 1s]\n", 3, "unknown key 'colour'", id="key_field"),
        pytest.param(
            "site:\n  locks:\n    - {id: L1, kind: door}\nsteps: [advance: 1s]\n",
            3,
            "kind must be one of cylinder, padlock",
            id="lock_kind",
        ),
        pytest.param(
            "site:\n  keys: [{id: K1}]\n  locks: [{id: K1}]\nsteps: [advance: 1s]\n",
            3,
            "id 'K1' is already used by a key",
            id="duplicate_id",
        ),
        pytest.param("site:\n  phones: [P1, P1]\nsteps: [advance: 1s]\n", 2, "id 'P1' is already used by a phone", id="duplicate_phone"),
        pytest.param("site:\n  phones: P1\nsteps: [advance: 1s]\n", 2, "site phones must be a list", id="phones_not_list"),
        pytest.param("site:\n  doors: []\nsteps: [advance: 1s]\n", 2, "unknown key 'doors'", id="site_field"),
        pytest.param("name: x\nsteps:\n  - advance: 1s\n\tbad: tab\n", 4, "not valid YAML", id="tab"),
        pytest.param("steps: [advance: 1s]\n---\nsteps: []\n", 2, "not valid YAML", id="two_documents"),
        pytest.param("steps: [advance: 1s]\nx: \x07\n", 2, "is not allowed", id="control_character"),
        pytest.param("steps: *nowhere\n", 1, "not valid YAML", id="undefined_alias"),
        pytest.param("steps: " + "[" * 5000 + "\n", 1, "not valid YAML", id="deep_nesting"),
    ],
)
def test_malformed_files_are_rejected_with_line_and_reason(text, line, reason):
    with pytest.raises(ScenarioError) as excinfo:
        parse_text(text, "bad.scenario.yaml")
    assert reason in excinfo.value.reason and excinfo.value.line == line, str(excinfo.value)


def test_a_file_that_is_not_utf8_or_missing(tmp_path):
    path = tmp_path / "latin1.scenario.yaml"
    path.write_bytes(b"name: x\nsteps:\n  - advance: 1s # caf\xe9\n")
    with pytest.raises(ScenarioError, match=r"latin1.scenario.yaml:3: not UTF-8 text"):
        load(path)
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load(tmp_path / "missing.scenario.yaml")
