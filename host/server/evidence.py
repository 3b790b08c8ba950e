"""Audit evidence: what the server believes of an upload, and what it refuses.

A key's upload is the batches its AUDIT_READ answered. A batch is believed only with the
key's own MAC over it (firmware/signed.py carried_mac), so a relay can neither drop records
from the middle nor claim the key gave more than it did; only then does the key's upload
pointer move (VALIDATE.uploaded_to lets the key reuse that space). Each record is believed
only with its lock's MAC (signed.audit_mac, under the lock's own secret for that epoch):
forgeries, records of locks or epochs the server never provisioned and records that
contradict a stored one are kept apart as rejections and reported, never stored as events,
so nothing fabricated can push out or shadow a genuine record.
"""

import secrets
from dataclasses import dataclass

from ...firmware import audit, signed
from ...protocol.codes import Denial, Outcome, Role
from ...protocol.messages import MAX_AUDIT_BATCH
from . import signing
from .records import U32_MAX, check_u32

REJECTION_REASONS = ("bad_mac", "unknown_lock", "unknown_epoch", "conflict", "bad_batch")
_FIELDS = ("seq", "epoch", "time", "key_id", "lock_id", "outcome", "reason", "count")


@dataclass(frozen=True)
class Upload:
    stored: int  # new events
    uploaded_to: int  # the key's carried position the server now holds everything before
    rejected: int  # records refused (rejections())


@dataclass(frozen=True)
class Rejection:
    uploaded_at_s: int
    carrier_key_id: int  # the key whose upload held it
    lock_id: int
    epoch: int
    seq: int
    reason: str  # one of REJECTION_REASONS
    record: bytes  # as uploaded


def _record_bytes(r):
    try:
        values = [r[f] for f in _FIELDS]
        mac = bytes(r["mac"])
    except (KeyError, TypeError):
        raise ValueError(f"an audit record needs the fields {', '.join(_FIELDS)} and mac, got {r!r}") from None
    for field, value in zip(_FIELDS, values, strict=True):
        check_u32(value, f"audit record {field}")
    if values[1] > 0xFFFF or values[7] > 0xFFFF or len(mac) != audit.MAC_LEN:
        raise ValueError(f"an audit record's epoch and count are 16 bits and its mac {audit.MAC_LEN} bytes: {r!r}")
    if values[5] not in set(Outcome) or values[6] not in set(Denial):
        raise ValueError(f"an audit record has an unknown outcome or reason: {r!r}")
    return audit.from_fields(dict(zip(_FIELDS, values, strict=True), mac=mac))


def check_batch(batch):
    """A carried batch ({from_seq, records, next_seq, mac}) checked and normalised, records as
    bytes; ValueError for anything malformed (before anything is written)."""
    try:
        from_seq, next_seq, records, mac = batch["from_seq"], batch["next_seq"], batch["records"], bytes(batch["mac"])
    except (KeyError, TypeError):
        raise ValueError(f"a carried batch has from_seq, records, next_seq and mac, got {batch!r}") from None
    check_u32(from_seq, "a batch's from_seq")
    check_u32(next_seq, "a batch's next_seq")
    if next_seq < from_seq or len(mac) != audit.MAC_LEN or not isinstance(records, (list, tuple)) or len(records) > MAX_AUDIT_BATCH:
        raise ValueError(
            f"a carried batch runs from from_seq to next_seq >= it, with a {audit.MAC_LEN}-byte mac and at most {MAX_AUDIT_BATCH} records"
        )
    return {"from_seq": from_seq, "next_seq": next_seq, "records": [_record_bytes(r) for r in records], "mac": mac}


def store_carried(conn, write, master, key_id, batches, now):
    """Verify and store a key's upload inside the caller's transaction (`write` runs a write
    statement). Returns an Upload."""
    (pointer,) = conn.execute("SELECT carried_uploaded FROM keys WHERE id = ?", (key_id,)).fetchone()
    key_own = signing.MacKey(signing.device_secret(master, Role.KEY, key_id))
    lock_keys = {}  # (lock_id, epoch) -> MacKey, or a rejection reason
    stored = rejected = 0
    contiguous = True
    for b in batches:
        genuine = secrets.compare_digest(b["mac"], signed.carried_mac(key_own, key_id, b["from_seq"], b["next_seq"], b["records"]))
        if genuine and contiguous and b["from_seq"] <= pointer:
            pointer = max(pointer, b["next_seq"])
        elif not genuine:
            contiguous = False  # nothing after a batch the key did not vouch for moves the pointer
        for raw in b["records"]:
            reason = "bad_batch" if not genuine else _verify(conn, master, lock_keys, raw)
            if reason is None:
                outcome = _insert(conn, write, raw, now)
                if outcome == "stored":
                    stored += 1
                    continue
                if outcome == "same":
                    continue
                reason = outcome
            f = audit.to_fields(raw)
            write(
                """INSERT INTO audit_rejections (uploaded_at_s, carrier_key_id, lock_id, epoch, seq, reason, record)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (now, key_id, f["lock_id"], f["epoch"], f["seq"], reason, bytes(raw)),
            )
            rejected += 1
    write("UPDATE keys SET carried_uploaded = ? WHERE id = ?", (min(pointer, U32_MAX), key_id))
    return Upload(stored, pointer, rejected)


def _verify(conn, master, lock_keys, raw):
    """None for a record its lock MACed, else why it is refused."""
    f = audit.to_fields(raw)
    where = (f["lock_id"], f["epoch"])
    if where not in lock_keys:
        row = conn.execute("SELECT epoch FROM locks WHERE id = ?", (f["lock_id"],)).fetchone()
        if row is None:
            lock_keys[where] = "unknown_lock"
        elif not 1 <= f["epoch"] <= row[0]:
            lock_keys[where] = "unknown_epoch"
        else:
            lock_keys[where] = signing.MacKey(signing.device_secret(master, Role.LOCK, f["lock_id"], f["epoch"]))
    key = lock_keys[where]
    if isinstance(key, str):
        return key
    return None if signed.audit_ok(key, raw) else "bad_mac"


def _insert(conn, write, raw, now):
    f = audit.to_fields(raw)
    cursor = write(
        """INSERT OR IGNORE INTO audit_events (lock_id, epoch, seq, time_s, key_id, outcome, reason, count, mac, uploaded_at_s)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (f["lock_id"], f["epoch"], f["seq"], f["time"], f["key_id"], f["outcome"], f["reason"], f["count"], f["mac"], now),
    )
    if cursor.rowcount:
        return "stored"
    (mac,) = conn.execute(
        "SELECT mac FROM audit_events WHERE lock_id = ? AND epoch = ? AND seq = ?", (f["lock_id"], f["epoch"], f["seq"])
    ).fetchone()
    # Two genuine records with one (lock, epoch, seq): the lock's flash was rolled back.
    return "same" if mac is not None and bytes(mac) == f["mac"] else "conflict"


def rejections(conn):
    rows = conn.execute("SELECT uploaded_at_s, carrier_key_id, lock_id, epoch, seq, reason, record FROM audit_rejections ORDER BY id")
    return [Rejection(ts, key, lock, epoch, seq, reason, bytes(record)) for ts, key, lock, epoch, seq, reason, record in rows]


def gaps(conn, lock_id=None):
    """[(lock name or None, epoch, first missing seq, last missing seq)] below each (lock,
    epoch)'s highest stored seq, from seq 0."""
    sql = "SELECT e.lock_id, l.name, e.epoch, e.seq FROM audit_events e LEFT JOIN locks l ON l.id = e.lock_id"
    params = ()
    if lock_id is not None:
        sql += " WHERE e.lock_id = ?"
        params = (lock_id,)
    out = []
    expected = {}
    for lid, name, epoch, seq in conn.execute(sql + " ORDER BY e.lock_id, e.epoch, e.seq", params):
        nxt = expected.get((lid, epoch), 0)
        if seq > nxt:
            out.append((name, epoch, nxt, seq - 1))
        expected[(lid, epoch)] = seq + 1
    return out
