# Audit events uploaded through keys: stored once per (lock, epoch, seq), read oldest first,
# and only for a stated reason, every read recorded. (What is believed of an upload, and what
# is refused: test_evidence_upload.py.)
import pytest
from server_testkit import DAY_S, START_S, YEAR_S, audit_record

from keylock.protocol.codes import Denial, Outcome


@pytest.fixture
def event(evidence):
    """event(seq, lock="L1", key_id=1001, denied=None): a genuine record, made at START_S + seq."""

    def make(seq, lock="L1", key_id=1001, denied=None):
        return evidence.record(
            lock, seq, key_id=key_id, t=START_S + seq, outcome=Outcome.DENIED if denied else Outcome.GRANTED, reason=denied or Denial.NONE
        )

    return make


@pytest.fixture
def upload(site, evidence):
    """upload(records, **kw): K1 carries `records` to the server (validate)."""

    def send(records, **kw):
        return site.validate("K1", audit=evidence.upload("K1", records), **kw)

    return send


def read(server, **kw):
    return server.audit(reason="incident 42", by="security desk", **kw)


def test_upload_is_idempotent_per_lock_and_seq(site, event, upload):
    batch = [event(1), event(2), event(1, lock="L2")]
    v = upload(batch)
    assert (v.audit_stored, v.audit_rejected) == (3, 0)
    v = upload(batch + [event(3)])  # the key sends them again: it did not hear uploaded_to
    assert (v.audit_stored, v.audit_rejected) == (1, 0)
    assert [(e.lock_id, e.epoch, e.seq) for e in read(site)] == [(101, 1, 1), (102, 1, 1), (101, 1, 2), (101, 1, 3)]
    assert site.audit_rejections() == []


def test_events_come_oldest_first_with_names_and_results(site, event, upload):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    upload([event(3, denied=Denial.OUTSIDE_SCHEDULE), event(1), event(2, key_id=1002)])
    events = read(site, lock="L1")
    assert [(e.seq, e.key, e.lock, e.result, e.denied, e.count) for e in events] == [
        (1, "K1", "L1", "granted", None, 1),
        (2, "K2", "L1", "granted", None, 1),
        (3, "K1", "L1", "denied", "outside_schedule", 1),
    ]
    assert [e.seq for e in read(site, lock="L1", key="K1")] == [1, 3]
    assert [e.seq for e in read(site, key="K2")] == [2]
    assert [e.seq for e in read(site, lock="L1", last=2)] == [2, 3]
    assert read(site, lock="L2") == []


def test_a_genuine_event_naming_a_key_the_site_does_not_know_is_kept(site, event, upload):
    upload([event(1, key_id=4242)])  # someone tried a key from elsewhere on L1: evidence
    (e,) = read(site)
    assert (e.lock_id, e.key_id, e.lock, e.key) == (101, 4242, "L1", None)


def test_a_counted_event_keeps_its_count(site, evidence, upload):
    record = audit_record(evidence.lock("L1"), 0, outcome=Outcome.DENIED, reason=Denial.AUTH_FAILED, count=7)
    upload([record])
    (e,) = read(site)
    assert (e.denied, e.count) == ("auth_failed", 7)


@pytest.mark.parametrize("reason, by", [("", "desk"), ("   ", "desk"), (None, "desk"), ("why", ""), ("why", None)])
def test_reading_needs_a_reason_and_a_reader(site, event, upload, reason, by):
    upload([event(1)])
    with pytest.raises(ValueError):
        site.audit(lock="L1", reason=reason, by=by)
    assert site.audit_retrievals() == []


def test_the_reason_is_required_by_signature(site):
    with pytest.raises(TypeError):
        site.audit(lock="L1")


def test_every_retrieval_is_recorded(site, clock, event, upload):
    upload([event(1), event(2)])
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


# Each malformation of a record in a batch: (field, value), or the whole record replaced.
BAD_RECORDS = [
    ("reason", None),  # dropped
    ("mac", None),  # dropped
    ("seq", -1),
    ("time", 1.5),
    ("outcome", 2),
    ("reason", 99),
    ("epoch", 0x10000),
    ("count", 0x10000),
    ("mac", bytes(7)),
    ("mac", "not bytes"),
    (None, "not a record"),
]
# ... and of a batch.
BAD_BATCHES = [
    ("from_seq", None),
    ("next_seq", -1),
    ("next_seq", "1"),
    ("mac", bytes(9)),
    ("records", "not a list"),
    (None, ["not", "a", "batch"]),
]


def _bad(good, field, value):
    if field is None:
        return value
    bad = dict(good)
    if value is None:
        del bad[field]
    else:
        bad[field] = value
    return bad


def _assert_nothing_recorded(site):
    assert read(site) == [] and site.battery_report() == [] and site.audit_rejections() == []
    assert site.key_info("K1").validated_at_s is None


@pytest.mark.parametrize("field, value", BAD_RECORDS)
def test_a_malformed_record_refuses_the_whole_upload(site, evidence, event, field, value):
    good = [event(1), event(2)]
    batch = evidence.batch("K1", good)
    batch["records"] = [good[0], _bad(good[1], field, value)]
    with pytest.raises(ValueError):
        site.validate("K1", audit=[evidence.batch("K1", [event(0)]), batch], soc=0.1)
    _assert_nothing_recorded(site)


@pytest.mark.parametrize("field, value", BAD_BATCHES)
def test_a_malformed_batch_refuses_the_whole_upload(site, evidence, event, field, value):
    good = evidence.batch("K1", [event(1)], from_seq=1)
    with pytest.raises(ValueError):
        site.validate("K1", audit=[evidence.batch("K1", [event(0)]), _bad(good, field, value)], soc=0.1)
    _assert_nothing_recorded(site)


def test_a_batch_running_backwards_or_too_long_is_refused(site, evidence, event):
    backwards = evidence.batch("K1", [], from_seq=5, next_seq=4)
    too_long = evidence.batch("K1", [event(i) for i in range(65)])
    for bad in (backwards, too_long):
        with pytest.raises(ValueError, match="carried batch"):
            site.validate("K1", audit=[bad], soc=0.1)
    _assert_nothing_recorded(site)
