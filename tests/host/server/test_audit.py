# Audit events uploaded through keys: stored once per (lock, seq), read oldest first, and
# only for a stated reason, every read recorded.
import pytest
from server_testkit import DAY_S, START_S, YEAR_S

from keylock.protocol.codes import Denial, Outcome


def event(seq, lock_id=101, key_id=1001, t=START_S, denied=None):
    return {
        "seq": seq,
        "time": t + seq,
        "key_id": key_id,
        "lock_id": lock_id,
        "outcome": Outcome.DENIED if denied else Outcome.GRANTED,
        "reason": denied or Denial.NONE,
    }


def read(server, **kw):
    return server.audit(reason="incident 42", by="security desk", **kw)


def test_upload_is_idempotent_per_lock_and_seq(site):
    batch = [event(1), event(2), event(1, lock_id=102)]
    assert site.validate("K1", audit=batch).audit_stored == 3
    assert site.validate("K1", audit=batch + [event(3)]).audit_stored == 1
    assert [(e.lock_id, e.seq) for e in read(site)] == [(101, 1), (102, 1), (101, 2), (101, 3)]


def test_events_come_oldest_first_with_names_and_results(site):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    site.validate("K1", audit=[event(3, denied=Denial.OUTSIDE_SCHEDULE), event(1), event(2, key_id=1002)])
    events = read(site, lock="L1")
    assert [(e.seq, e.key, e.lock, e.result, e.denied) for e in events] == [
        (1, "K1", "L1", "granted", None),
        (2, "K2", "L1", "granted", None),
        (3, "K1", "L1", "denied", "outside_schedule"),
    ]
    assert [e.seq for e in read(site, lock="L1", key="K1")] == [1, 3]
    assert [e.seq for e in read(site, key="K2")] == [2]
    assert [e.seq for e in read(site, lock="L1", last=2)] == [2, 3]
    assert read(site, lock="L2") == []


def test_events_of_devices_the_site_does_not_know_are_kept(site):
    site.validate("K1", audit=[event(1, lock_id=999, key_id=4242)])
    (e,) = read(site)
    assert (e.lock_id, e.key_id, e.lock, e.key) == (999, 4242, None, None)


@pytest.mark.parametrize("reason, by", [("", "desk"), ("   ", "desk"), (None, "desk"), ("why", ""), ("why", None)])
def test_reading_needs_a_reason_and_a_reader(site, reason, by):
    site.validate("K1", audit=[event(1)])
    with pytest.raises(ValueError):
        site.audit(lock="L1", reason=reason, by=by)
    assert site.audit_retrievals() == []


def test_the_reason_is_required_by_signature(site):
    with pytest.raises(TypeError):
        site.audit(lock="L1")


def test_every_retrieval_is_recorded(site, clock):
    site.validate("K1", audit=[event(1), event(2)])
    site.audit(lock="L1", reason="door forced?", by="Eva")
    clock.advance(DAY_S)
    site.audit(key="K1", last=1, reason="lost key report", by="Olle")
    site.audit(reason="yearly review", by="auditor")
    got = [(r.time_s, r.by, r.reason, r.lock, r.key, r.last, r.events) for r in site.audit_retrievals()]
    assert got == [
        (START_S, "Eva", "door forced?", "L1", None, None, 2),
        (START_S + DAY_S, "Olle", "lost key report", None, "K1", 1, 1),
        (START_S + DAY_S, "auditor", "yearly review", None, None, None, 2),
    ]


def test_bad_filters_are_refused_and_not_recorded(site):
    for kw in ({"lock": "nope"}, {"key": "nope"}, {"last": 0}, {"last": -1}, {"last": "3"}):
        with pytest.raises(ValueError):
            read(site, **kw)
    assert site.audit_retrievals() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"seq": 1, "time": 1, "key_id": 1, "lock_id": 1, "outcome": 0},  # no reason
        {"seq": -1, "time": 1, "key_id": 1, "lock_id": 1, "outcome": 0, "reason": 0},
        {"seq": 1, "time": 1.5, "key_id": 1, "lock_id": 1, "outcome": 0, "reason": 0},
        {"seq": 1, "time": 1, "key_id": 1, "lock_id": 1, "outcome": 2, "reason": 0},
        {"seq": 1, "time": 1, "key_id": 1, "lock_id": 1, "outcome": 0, "reason": 99},
        "not a record",
    ],
)
def test_a_malformed_record_refuses_the_whole_upload(site, bad):
    with pytest.raises(ValueError):
        site.validate("K1", audit=[event(1), bad], soc=0.1)
    assert read(site) == [] and site.battery_report() == []
    assert site.key_info("K1").validated_at_s is None
