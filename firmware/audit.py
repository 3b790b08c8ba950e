# One audit event as the lock stores it, the key carries it and AUDIT_BATCH sends it:
# seq u32, epoch u16, time, key id, lock id (u32 each), outcome, reason (u8 each), count u16
# and the lock's MAC (8 bytes) over everything before it. The layout is the protocol's
# AuditRecord (golden vectors pin it). The MAC is made with the lock's own secret inside its
# secure storage (signed.audit_mac), so nobody who carries a record can alter or invent one.
from struct import pack, unpack_from

from ._const import const

RECORD_LEN = const(30)
MAC_LEN = const(8)
_FORMAT = "<LHLLLBBH"


def pack_body(seq, epoch, when, key_id, lock_id, outcome, reason, count):
    """The record without its MAC: what the MAC covers."""
    return pack(_FORMAT, seq, epoch, when, key_id, lock_id, outcome, reason, count)


def from_fields(r):
    return pack(_FORMAT, r["seq"], r["epoch"], r["time"], r["key_id"], r["lock_id"], r["outcome"], r["reason"], r["count"]) + bytes(
        r["mac"]
    )


def to_fields(raw):
    seq, epoch, when, key_id, lock_id, outcome, reason, count = unpack_from(_FORMAT, raw)
    return {
        "seq": seq,
        "epoch": epoch,
        "time": when,
        "key_id": key_id,
        "lock_id": lock_id,
        "outcome": outcome,
        "reason": reason,
        "count": count,
        "mac": bytes(raw[RECORD_LEN - MAC_LEN : RECORD_LEN]),
    }
