# One audit event as the lock stores it, the key carries it and AUDIT_BATCH sends it:
# seq, time, key id, lock id (u32 each), outcome, reason (u8 each). The layout is the
# protocol's AuditRecord (golden vectors pin it).
from struct import pack, unpack_from

from ._const import const

RECORD_LEN = const(18)
_FORMAT = "<LLLLBB"


def pack_record(seq, when, key_id, lock_id, outcome, reason):
    return pack(_FORMAT, seq, when, key_id, lock_id, outcome, reason)


def from_fields(r):
    return pack(_FORMAT, r["seq"], r["time"], r["key_id"], r["lock_id"], r["outcome"], r["reason"])


def to_fields(raw):
    seq, when, key_id, lock_id, outcome, reason = unpack_from(_FORMAT, raw)
    return {"seq": seq, "time": when, "key_id": key_id, "lock_id": lock_id, "outcome": outcome, "reason": reason}
