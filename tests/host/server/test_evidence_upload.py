# What the server believes of an audit upload (host/server/evidence.py): a record only with
# its lock's MAC for its epoch, a carried batch only with its key's MAC; everything else is a
# rejection, kept apart and never an event, so nothing fabricated can push out, shadow or
# stand in for a genuine record. (lock, epoch, seq) names an event: a re-provisioned lock
# starts a new epoch. The key's upload position (VALIDATE.uploaded_to) moves only over what
# the key vouched for, contiguously.
import sqlite3

import pytest
from server_testkit import START_S, YEAR_S, Clock, audit_record, carried_batch

from keylock.firmware import audit
from keylock.host.server import AccessServer, db
from keylock.protocol.codes import Denial, Outcome


def events(server, lock=None):
    return server.audit(lock=lock, reason="evidence test", by="pytest")


def stored(server, lock=None):
    """(lock id, epoch, seq, time, key id) of every stored event, oldest first."""
    return sorted((e.lock_id, e.epoch, e.seq, e.time, e.key_id) for e in events(server, lock))


def rejected(server):
    return [(r.lock_id, r.epoch, r.seq, r.reason) for r in server.audit_rejections()]


def test_fabricated_records_before_genuine_ones_are_rejected_and_push_nothing_out(site, evidence):
    # 500 records claiming to be L1's, on the very seqs L1 will use, made by someone without
    # L1's secret: half with a guessed secret, half by another lock (L2) with its own.
    l1, l2 = evidence.lock("L1"), evidence.lock("L2")
    fake = [audit_record(l1, seq, key_id=6666, t=START_S + seq, secret=bytes(range(32))) for seq in range(250)]
    fake += [audit_record(l1, seq, key_id=6666, t=START_S + seq, secret=l2["secret"]) for seq in range(250, 500)]
    genuine = [evidence.record("L1", seq, t=START_S + 1000 + seq) for seq in range(5)]
    v = site.validate("K1", audit=evidence.upload("K1", fake + genuine))
    assert (v.audit_stored, v.audit_rejected) == (5, 500)
    assert stored(site) == [(101, 1, seq, START_S + 1000 + seq, 1001) for seq in range(5)]
    rejections = site.audit_rejections()
    assert [(r.lock_id, r.epoch, r.seq, r.reason, r.carrier_key_id) for r in rejections] == [
        (101, 1, seq, "bad_mac", 1001) for seq in range(500)
    ]
    assert [r.record for r in rejections] == [audit.from_fields(f) for f in fake]
    assert all(e.key_id != 6666 for e in events(site))


def test_a_reprovisioned_lock_starts_an_epoch_whose_events_are_kept_beside_the_old_ones(site, evidence):
    site.validate("K1", audit=evidence.upload("K1", [evidence.record("L1", seq, t=START_S + seq) for seq in range(10)]))
    evidence.reprovision("L1")  # the lock was reset (or replaced): its seqs start at 0 again
    assert evidence.lock("L1")["epoch"] == 2
    again = [evidence.record("L1", seq, t=START_S + 100 + seq, key_id=1002) for seq in range(10)]
    v = site.validate("K1", audit=evidence.upload("K1", again))
    assert (v.audit_stored, v.audit_rejected) == (10, 0)
    assert stored(site, "L1") == [(101, 1, s, START_S + s, 1001) for s in range(10)] + [
        (101, 2, s, START_S + 100 + s, 1002) for s in range(10)
    ]
    assert site.audit_gaps("L1") == []


def test_records_of_an_earlier_epoch_still_verify_and_its_secret_vouches_for_no_later_one(site, evidence):
    first = evidence.lock("L1")
    evidence.reprovision("L1")
    late = audit_record(first, 0)  # carried by a key that met the lock before its reset
    by_old_secret = audit_record(first, 1, epoch=2)  # the old lock's secret, extracted, claiming the new epoch
    v = site.validate("K1", audit=evidence.upload("K1", [late, by_old_secret]))
    assert (v.audit_stored, v.audit_rejected) == (1, 1)
    assert [(e.epoch, e.seq) for e in events(site)] == [(1, 0)]
    assert rejected(site) == [(101, 2, 1, "bad_mac")]


def tamper_drop_middle(batch):
    batch["records"] = batch["records"][:2] + batch["records"][3:]  # the relay kept record 2 back


def tamper_more_next_seq(batch):
    batch["next_seq"] += 1  # the relay claims the key gave more than it did


def tamper_less_next_seq(batch):
    batch["next_seq"] -= 1


def tamper_from_seq(batch):
    batch["from_seq"] -= 1  # as if the batch started where the server's pointer is


def tamper_another_keys_mac(batch):
    pass  # replaced below: made with K2's own secret


@pytest.mark.parametrize(
    "tamper", [tamper_drop_middle, tamper_more_next_seq, tamper_less_next_seq, tamper_from_seq, tamper_another_keys_mac]
)
def test_a_batch_without_its_keys_mac_is_rejected_and_the_pointer_stays(site, evidence, tamper):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    first = [evidence.record("L1", seq) for seq in range(3)]
    assert site.validate("K1", audit=evidence.upload("K1", first)).uploaded_to == 3
    records = [evidence.record("L1", seq) for seq in range(3, 8)]
    if tamper is tamper_another_keys_mac:
        batch = carried_batch(dict(evidence.key("K1"), secret=evidence.key("K2")["secret"]), records, from_seq=3)
    else:
        batch = evidence.batch("K1", records, from_seq=3)
        tamper(batch)
    v = site.validate("K1", audit=[batch])
    assert (v.audit_stored, v.uploaded_to, v.audit_rejected) == (0, 3, len(batch["records"]))
    assert [e.seq for e in events(site)] == [0, 1, 2]
    assert {r.reason for r in site.audit_rejections()} == {"bad_batch"}
    assert site.validate("K1").uploaded_to == 3  # and it stays put


def test_the_pointer_moves_only_over_contiguous_genuine_batches_from_where_it_is(site, evidence):
    def batch(start, stop, **kw):
        return evidence.batch("K1", [evidence.record("L1", seq) for seq in range(start, stop)], from_seq=start, **kw)

    def upload(*batches):
        return site.validate("K1", audit=list(batches)).uploaded_to

    assert upload(batch(0, 3), batch(5, 8)) == 3  # 3 and 4 missing: what follows is not held in order
    assert upload(batch(5, 8)) == 3  # still starts after the pointer
    forged = batch(3, 5)
    forged["mac"] = bytes(8)
    assert upload(forged, batch(5, 8)) == 3  # the gap filled by a batch the key did not vouch for
    assert upload(batch(3, 5), batch(5, 8)) == 8  # now genuinely contiguous
    assert upload(batch(0, 2)) == 8  # an old batch sent again: the pointer never goes back
    assert upload(batch(6, 10)) == 10  # overlapping the pointer: it starts at or before it
    assert upload() == 10
    # Records of genuine batches are stored whether or not the pointer moved over them.
    assert [e.seq for e in events(site)] == list(range(10))


def test_gaps_in_a_locks_trail_are_reported(site, evidence):
    records = [evidence.record("L1", seq) for seq in (0, 1, 2, 5, 6)] + [evidence.record("L2", seq) for seq in (2, 3)]
    records += [evidence.record("L3", seq) for seq in range(4)]
    site.validate("K1", audit=evidence.upload("K1", records))
    epoch = evidence.lock("L1")["epoch"]
    assert site.audit_gaps("L1") == [("L1", epoch, 3, 4)]
    assert site.audit_gaps("L3") == []
    assert site.audit_gaps() == [("L1", epoch, 3, 4), ("L2", 1, 0, 1)]
    site.validate("K1", audit=evidence.upload("K1", [evidence.record("L1", 3), evidence.record("L1", 4)]))
    assert site.audit_gaps("L1") == []


def test_a_second_genuine_record_for_one_lock_epoch_and_seq_is_a_conflict_and_the_first_is_kept(site, evidence):
    first = evidence.record("L1", 7, t=START_S)
    other = evidence.record("L1", 7, t=START_S + 60, outcome=Outcome.DENIED, reason=Denial.BLOCKED)  # the lock's flash was rolled back
    v = site.validate("K1", audit=evidence.upload("K1", [first]))
    assert (v.audit_stored, v.audit_rejected) == (1, 0)
    v = site.validate("K1", audit=evidence.upload("K1", [first, other]))  # the same one again is no conflict
    assert (v.audit_stored, v.audit_rejected) == (0, 1)
    (e,) = events(site)
    assert (e.seq, e.time, e.result) == (7, START_S, "granted")
    (r,) = site.audit_rejections()
    assert (r.lock_id, r.epoch, r.seq, r.reason, r.record) == (101, 1, 7, "conflict", audit.from_fields(other))


def test_records_of_unknown_locks_and_epochs_are_rejected_not_stored(site, evidence):
    l1 = evidence.lock("L1")  # epoch 1: provisioned once
    unknown_lock = audit_record({"device_id": 999, "epoch": 1, "secret": l1["secret"]}, 0)
    too_new = audit_record(l1, 0, epoch=2)
    epoch_zero = audit_record(l1, 0, epoch=0)
    never_provisioned = audit_record({"device_id": site.lock_id("L3"), "epoch": 1, "secret": bytes(32)}, 0)
    v = site.validate("K1", audit=evidence.upload("K1", [unknown_lock, too_new, epoch_zero, never_provisioned]))
    assert (v.audit_stored, v.audit_rejected) == (0, 4)
    assert events(site) == []
    assert rejected(site) == [
        (999, 1, 0, "unknown_lock"),
        (101, 2, 0, "unknown_epoch"),
        (101, 0, 0, "unknown_epoch"),
        (103, 1, 0, "unknown_epoch"),
    ]


def schema_2_site(path):
    """A database as keylock wrote it before evidence (schema 2, the old statements), with a
    site, a key, a lock and two audit events."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in db.MIGRATIONS[0] + db.MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (2)")
    conn.execute("INSERT INTO site (id, secret, timezone, created_at_s) VALUES (1, ?, 'UTC', ?)", (bytes(range(32)), START_S))
    conn.execute("INSERT INTO holders (name, id06, id06_expires_s) VALUES ('H', 'C-1', ?)", (START_S + YEAR_S,))
    conn.execute(
        "INSERT INTO keys (id, name, holder_id, state, not_before_s, not_after_s) VALUES (1001, 'K1', 1, 'approved', 0, 4294967295)"
    )
    conn.execute("INSERT INTO locks (id, name, kind) VALUES (101, 'L1', 'cylinder')")
    for seq in (1, 2):
        conn.execute(
            "INSERT INTO audit_events (lock_id, seq, time_s, key_id, outcome, reason, uploaded_at_s) VALUES (101, ?, ?, 1001, 0, 0, ?)",
            (seq, START_S - 100 + seq, START_S),
        )
    conn.close()


def test_a_schema_2_database_migrates_and_evidence_survives_reopening(tmp_path):
    path = str(tmp_path / "old.db")
    schema_2_site(path)
    clock = Clock()
    with AccessServer.open(path, now_s=clock) as server:
        assert [(e.epoch, e.seq, e.count) for e in events(server)] == [(0, 1, 1), (0, 2, 1)]  # kept, from before epochs
        lock = server.provision_lock("L1")
        assert lock["epoch"] == 1
        key = server.provision_key("K1")
        genuine = [audit_record(lock, seq, t=START_S + seq, count=seq + 1) for seq in range(3)]
        forged = audit_record(lock, 3, secret=bytes(32))
        v = server.validate("K1", audit=[carried_batch(key, genuine + [forged])])
        assert (v.audit_stored, v.audit_rejected, v.uploaded_to) == (3, 1, 4)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(db.SCHEMA_VERSION,)]
    conn.close()
    with AccessServer.open(path, now_s=clock) as again:
        assert [(e.epoch, e.seq, e.count) for e in events(again)] == [(0, 1, 1), (0, 2, 1), (1, 0, 1), (1, 1, 2), (1, 2, 3)]
        assert rejected(again) == [(101, 1, 3, "bad_mac")]
        assert again.validate("K1").uploaded_to == 4  # the key's position survived
        assert again.provision_lock("L1")["epoch"] == 2  # and the lock's epoch count
        v = again.validate("K1", audit=[carried_batch(key, genuine)])  # the epoch-1 records are still recognised
        assert (v.audit_stored, v.audit_rejected) == (0, 0)
